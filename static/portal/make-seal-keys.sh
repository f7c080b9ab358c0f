#!/bin/sh
# make-seal-keys.sh - make the holder key and the certificate request (CSR) of each electronic seal
# your enterprise applies for, with OpenSSL 3. The keys stay on this computer: only the .csr files
# are uploaded to the enterprise portal. One key per seal.
#
# Usage:  sh make-seal-keys.sh USCC "Enterprise name" [sm2|p256] [seal codes...]
#   e.g.  sh make-seal-keys.sh 91440300MA5F12342Q "深圳市前海示范科技有限公司" sm2 01 02 04 05
# Seal codes: 01 法定名称章, 02 财务专用章, 03 发票专用章, 04 合同专用章, 05 法定代表人名章, 99 其他;
# without codes the standard set 01 02 04 05 is made. Files: seal-<code>.key (keep it secret, mode
# 0600) and seal-<code>.csr (upload it) in the current folder. Nothing existing is overwritten.
set -eu

if [ "$#" -lt 2 ]; then
    sed -n '5,10p' "$0" >&2
    exit 2
fi
uscc=$1
name=$2
alg=${3:-sm2}
[ "$#" -ge 3 ] && shift 3 || shift "$#"
codes=${*:-01 02 04 05}

case "$uscc" in
    [0-9A-HJ-NPQRTUWXY][0-9A-HJ-NPQRTUWXY]????????????????) ;;
    *) echo "error: '$uscc' is not an 18-character USCC (统一社会信用代码)" >&2; exit 2 ;;
esac
case "$name" in
    */*|*\\*) echo "error: the enterprise name must not contain / or \\" >&2; exit 2 ;;
esac
command -v openssl >/dev/null 2>&1 || { echo "error: openssl is not installed" >&2; exit 2; }
case "$(openssl version)" in
    "OpenSSL 3"*) ;;
    *) echo "error: OpenSSL 3 is needed (found: $(openssl version))" >&2; exit 2 ;;
esac

subj="/C=CN/CN=$name/organizationIdentifier=$uscc"
umask 077
for code in $codes; do
    case "$code" in 01|02|03|04|05|99) ;; *) echo "error: unknown seal code '$code'" >&2; exit 2 ;; esac
    key="seal-$code.key"
    csr="seal-$code.csr"
    if [ -e "$key" ] || [ -e "$csr" ]; then
        echo "error: $key or $csr exists already; nothing was overwritten" >&2
        exit 1
    fi
    case "$alg" in
        sm2)
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out "$key"
            openssl req -new -key "$key" -sm3 -sigopt distid:1234567812345678 -utf8 -subj "$subj" -out "$csr"
            openssl req -in "$csr" -verify -noout -vfyopt distid:1234567812345678 2>&1 | grep -q "verify OK" ;;
        p256)
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key"
            openssl req -new -key "$key" -sha256 -utf8 -subj "$subj" -out "$csr"
            openssl req -in "$csr" -verify -noout 2>&1 | grep -q "verify OK" ;;
        *) echo "error: the algorithm is sm2 or p256, not '$alg'" >&2; exit 2 ;;
    esac
    echo "seal $code: key $key (keep it secret), certificate request $csr (upload it)"
done
