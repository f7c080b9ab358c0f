"""The ``registry`` command run in-process (click's test runner) with an environment of its own."""

from __future__ import annotations

import os

from click.testing import CliRunner, Result

from registry.cli import main
from registry.config import Settings
from registry.services.context import ServiceContext
from tests.support.data import TEST_KEK

# A licence file with good rows, a bad check character, a cancelled enterprise and a bad date.
GOOD_CSV = """uscc,name,legal_representative,entity_type,address,registered_on,status
91440300MA5F12342Q,深圳市前海示范科技有限公司,张三,有限责任公司,深圳市南山区,2019-05-20,active
91440300MA5F12342R,坏校验码有限公司,李四,有限责任公司,深圳市,2019-05-20,active
91440300MA5GK7B25F,深圳市福田样例贸易有限公司,李四,有限责任公司,深圳市福田区,2020-08-11,active
91440300000000000E,深圳市已注销示例有限公司,钱七,有限责任公司,深圳市宝安区,2015-07-01,cancelled
92440300MA5GT0017N,日期错误便利店,王五,个体工商户,深圳市罗湖区,2021-13-02,active
"""


class Cli:
    """``cli("seal", "issue", ...)`` runs the command; unless ``ok=False``, a non-zero exit fails."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(main, list(args), env=self.env, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"registry {' '.join(args)} failed ({result.exit_code}): {result.stdout}{result.stderr}"
            )
        return result


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def ctx_of(cli: Cli) -> ServiceContext:
    """A service context on the command's database and instance (to look at what it did)."""
    return ServiceContext.create(Settings.from_env(cli.env))


def publisher_env(ctx: ServiceContext, **extra: str) -> dict[str, str]:
    """The environment of a ``registry`` subprocess (``crl publish``) on ctx's instance and database."""
    s = ctx.settings
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REGISTRY_INSTANCE_PATH": str(s.instance_path),
        "REGISTRY_DATABASE_URL": s.database_url,
        "REGISTRY_KEK": TEST_KEK,
        "REGISTRY_BASE_URL": s.base_url,
        "REGISTRY_CRL_SHARDS": str(s.crl_shards),
        "REGISTRY_PUBLISH_DIR": str(s.publish_dir),
    }
    env.update(extra)
    return env
