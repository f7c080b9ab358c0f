"""Demonstration data for ``registry init --demo``: fictitious licences and two staff accounts.

The USCCs are the test-only codes of domain.md §3.5 (valid on both check layers, not real companies).
"""

from __future__ import annotations

from sqlalchemy import select

from ..db.models import User
from ..domain.roles import Role
from . import licences, users
from .context import Actor, ServiceContext

DEMO_CSV = """uscc,name,legal_representative,entity_type,address,registered_on,status
91440300MA5F12342Q,深圳市前海示范科技有限公司,张三,有限责任公司,深圳市南山区前海大道1号,2019-05-20,active
91440300MA5GK7B25F,深圳市福田样例贸易有限公司,李四,有限责任公司,深圳市福田区深南大道2号,2020-08-11,active
92440300MA5GT0017N,深圳市罗湖区王五便利店,王五,个体工商户,深圳市罗湖区东门路3号,2021-03-02,active
93440300MA5HW8N39L,深圳市光明示例农业专业合作社,赵六,农民专业合作社,深圳市光明区光明大道4号,2022-01-15,active
91440300000000000E,深圳市已注销示例有限公司,钱七,有限责任公司,深圳市宝安区宝安大道5号,2015-07-01,cancelled
"""


def load_demo(ctx: ServiceContext, actor: Actor) -> list[str]:
    out = []
    report = licences.import_licences(ctx, actor, DEMO_CSV.encode(), "demo-licences.csv")
    out.append(
        f"demo licences: created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}"
    )
    for name, role in (("operator", Role.OPERATOR), ("reviewer", Role.REVIEWER), ("auditor", Role.AUDITOR)):
        with ctx.reader() as session:
            exists = session.scalar(select(User.id).where(User.username == name)) is not None
        if exists:
            out.append(f"demo user {name} exists")
            continue
        _u, password = users.add_user(ctx, actor, name, [role])
        out.append(f"demo user {name} ({role.value}), one-time password: {password}")
    return out
