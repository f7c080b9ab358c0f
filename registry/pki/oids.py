"""Object identifiers used across the project, with the standard each comes from."""

# GM/T 0006 / GB/T 33560 (SM algorithms)
SM2_CURVE = "1.2.156.10197.1.301"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3 = "1.2.156.10197.1.401"

# RFC 5480 / RFC 5758 (ECDSA)
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
P256 = "1.2.840.10045.3.1.7"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
SHA256 = "2.16.840.1.101.3.4.2.1"

# RFC 5280 name attributes
COMMON_NAME = "2.5.4.3"
SERIAL_NUMBER = "2.5.4.5"
COUNTRY = "2.5.4.6"
LOCALITY = "2.5.4.7"
STATE = "2.5.4.8"
ORGANIZATION = "2.5.4.10"
ORGANIZATIONAL_UNIT = "2.5.4.11"
ORGANIZATION_IDENTIFIER = "2.5.4.97"  # X.520; carries the USCC in holder certificates

# RFC 5280 certificate extensions
SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
KEY_USAGE = "2.5.29.15"
SUBJECT_ALT_NAME = "2.5.29.17"
BASIC_CONSTRAINTS = "2.5.29.19"
CRL_NUMBER = "2.5.29.20"
CRL_REASON = "2.5.29.21"
INVALIDITY_DATE = "2.5.29.24"
DELTA_CRL_INDICATOR = "2.5.29.27"
ISSUING_DISTRIBUTION_POINT = "2.5.29.28"
CRL_DISTRIBUTION_POINTS = "2.5.29.31"
CERTIFICATE_POLICIES = "2.5.29.32"
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
EXTENDED_KEY_USAGE = "2.5.29.37"
FRESHEST_CRL = "2.5.29.46"
AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1"
AD_OCSP = "1.3.6.1.5.5.7.48.1"
AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2"

# PKCS#9 / PKCS#10
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"

# Project arc for our certificate policy and seal extension data. 1.3.6.1.4.1 is the IANA private
# enterprise arc; the number below is a placeholder the deploying bureau replaces with its own
# assignment (configurable as REGISTRY_POLICY_OID).
DEFAULT_POLICY = "1.3.6.1.4.1.61156.1.1"
