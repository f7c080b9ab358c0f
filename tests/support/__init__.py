"""Helpers shared by the test modules: plain, typed functions and classes, no fixtures.

Fixtures live in conftest.py files (tests/conftest.py for the ones several packages use); what a
fixture or a test needs to build, sign in or inspect comes from these modules, one per subject:

``applications``  staff actors and a submitted application (services)
``audit``         a history of audit events, and tampering with it behind the application's back
``cli``           the ``registry`` command run in-process with an environment (click's runner)
``jose``          JWS checked by node's jose and by openssl dgst (SM2-SM3)
``enterprises``   licences in bulk, the licence import page and its report, an English staff client
``mail``          an SMTP server on loopback that keeps what it receives (aiosmtpd)
``net``           a free TCP port on 127.0.0.1
``pki``           the OpenSSL command line, the ASN.1 structure it sees, hypothesis settings, CSRs
``portal``        the enterprise portal: e-licence sign-in, the legal representative, authorised persons, form posts
``portal_seals``  an authorised person with grants, seals on a CSR, pictures, the renewal window
``seals``         seals issued through the services (one request, one at a time or a batch), a file signed
``staff``         staff accounts and the staff portal's sign-in (password, TOTP, password change)
"""
