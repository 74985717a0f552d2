import path from 'node:path';
import { caCertificateFile, ensureCa, ensureHostCertificates, type LabCa } from '../../services/common/certificates';
import { hasTls, STACK } from '../wire';

/**
 * `wirelab ca`: make the lab's certificate authority if the data folder has none (and
 * the certificates of every lab host that speaks TLS), then say where its certificate is
 * and how to trust it, and untrust it, in the clients a class uses. In the Docker lab's
 * client the tls volume is read-only: the services made all of it already.
 */

export async function ensureLabCa(dataDir: string): Promise<LabCa> {
  const ca = await ensureCa(dataDir);
  for (const host of new Set(STACK.filter(hasTls).map((s) => s.host))) await ensureHostCertificates(dataDir, host);
  return ca;
}

export function trustGuide(ca: LabCa, dataDir: string): string {
  const file = path.resolve(caCertificateFile(dataDir));
  const name = ca.commonName;
  return `The lab's certificate authority (data folder ${path.resolve(dataDir)})
  certificate   ${file}
  subject       ${ca.subject}
  SHA-256       ${ca.fingerprint256}
  valid until   ${ca.validTo.toISOString().slice(0, 10)}
It vouches only for names under .test, localhost, 127.0.0.0/8 and ::1 (name constraints),
and it is this lab's own: \`wirelab reset\` throws it away and the next start makes another.

Trust it for one command:
  curl         curl --cacert ${file} https://localhost:8443/
               CURL_CA_BUNDLE=${file} curl https://localhost:8443/
  OpenSSL      openssl s_client -CAfile ${file} -connect localhost:8443
               SSL_CERT_FILE=${file} ...   (OpenSSL and Python's ssl read it in place of the system's list;
                                            Debian's curl does not: use CURL_CA_BUNDLE)
  Node         NODE_EXTRA_CA_CERTS=${file} node app.js   (added to Node's list when node starts)
  Python       ssl.create_default_context(cafile='${file}')
               REQUESTS_CA_BUNDLE=${file} python3 app.py   (requests)

Trust it in a browser (then restart the browser):
  Chromium, Chrome on Linux   certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "${name}" -i ${file}
                              (certutil is in Debian's libnss3-tools)
  Firefox                     Settings > Privacy & Security > Certificates > View Certificates > Authorities >
                              Import..., tick "Trust this CA to identify websites"
  macOS                       security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db root.pem
  Windows                     certutil -user -addstore Root root.pem

Remove it again:
  Chromium, Chrome on Linux   certutil -d sql:$HOME/.pki/nssdb -D -n "${name}"
  Firefox                     the same Authorities list: select "${name}", Delete or Distrust...
  macOS                       security delete-certificate -c "${name}" ~/Library/Keychains/login.keychain-db
  Windows                     certutil -user -delstore Root "${name}"
  curl, OpenSSL, Node, Python: nothing to remove; options and variables last one command.

\`wirelab ca --pem\` prints the certificate alone. In Docker the CA is in the lab's tls volume and every
container trusts it (the client workstation has it in its trust store); to copy it out:
  docker compose run --rm -T client wirelab ca --pem > wirelab-ca.pem
`;
}
