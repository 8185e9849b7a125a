"""paysim's stand-in for PayPal's webhook certificates, made fresh for one dev/test stack:
a CA, the signing leaf (CN messageverificationcerts.paysim.test) and two bad variants with the
same key (another CN; expired), and a TLS certificate for 127.0.0.1 so the certificate URL can
be https. Usage: paypal_certs.py DIR. Writes into DIR: paysim_ca.pem, paypal_sign_key.pem,
tls.pem, tls_key.pem, and certs/CERT-paysim, certs/CERT-wrongcn, certs/CERT-expired."""
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = sys.argv[1]
os.makedirs(os.path.join(out, "certs"), exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paysim"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject_cn, pub, issuer_key, issuer_name, not_before, not_after, ca=False, san_ip=None):
    b = (x509.CertificateBuilder().subject_name(name(subject_cn)).issuer_name(issuer_name)
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san_ip:
        b = (b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                             critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def write(path, data, private=False):
    full = os.path.join(out, path)
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def key_pem(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


ca_key = key()
ca_name = name("paysim test CA")
ca = cert("paysim test CA", ca_key.public_key(), ca_key, ca_name, now - datetime.timedelta(days=1),
          now + datetime.timedelta(days=3650), ca=True)
sign_key = key()
year = datetime.timedelta(days=365)
good = cert("messageverificationcerts.paysim.test", sign_key.public_key(), ca_key, ca_name,
            now - datetime.timedelta(days=1), now + 10 * year)
wrong_cn = cert("messageverificationcerts.paysim.evil", sign_key.public_key(), ca_key, ca_name,
                now - datetime.timedelta(days=1), now + 10 * year)
expired = cert("messageverificationcerts.paysim.test", sign_key.public_key(), ca_key, ca_name,
               now - 3 * year, now - 2 * year)
tls_key = key()
tls = cert("127.0.0.1", tls_key.public_key(), ca_key, ca_name, now - datetime.timedelta(days=1),
           now + 10 * year, san_ip="127.0.0.1")

write("paysim_ca.pem", pem(ca))
write("paypal_sign_key.pem", key_pem(sign_key), private=True)
write("tls.pem", pem(tls))
write("tls_key.pem", key_pem(tls_key), private=True)
# Served as PayPal serves them: the leaf, then what it chains through (here nothing but the CA).
write("certs/CERT-paysim", pem(good))
write("certs/CERT-wrongcn", pem(wrong_cn))
write("certs/CERT-expired", pem(expired))
