//! The run's certificates and keys, made with the `openssl` command: one CA (P-256), a serving
//! certificate per API server whose SANs list its addresses and names (the master's IP, 127.0.0.1,
//! the VIP…), the service-account signing key pair (RSA 2048), and random bearer tokens.

use super::cmd::Cmd;
use super::{io_err, NetnsError, Result};
use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The CA and service-account keys of a run, as files in its directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    /// CA certificate (PEM).
    pub ca_crt: PathBuf,
    /// CA private key (PEM).
    pub ca_key: PathBuf,
    /// Service-account signing key (PEM, private).
    pub sa_key: PathBuf,
    /// Service-account verification key (PEM, public).
    pub sa_pub: PathBuf,
}

/// A serving certificate and its key.
#[derive(Debug, Clone)]
pub struct ServingCert {
    /// Certificate (PEM), signed by the run's CA.
    pub crt: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

fn openssl() -> Cmd {
    Cmd::new("openssl")
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

impl Pki {
    /// Makes the CA and the service-account key pair in `dir` (created if missing).
    pub fn new(dir: &Path) -> Result<Pki> {
        fs::create_dir_all(dir).map_err(io_err(p(dir)))?;
        let pki = Pki {
            dir: dir.to_path_buf(),
            ca_crt: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
        };
        // Our own config, so the result does not depend on the machine's openssl.cnf.
        let cnf = dir.join("ca.cnf");
        let text = "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
                    [dn]\nCN = kvip-testbed-ca\n\
                    [v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
                    keyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n";
        fs::write(&cnf, text).map_err(io_err(p(&cnf)))?;
        openssl()
            .args([
                "req",
                "-x509",
                "-config",
                &p(&cnf),
                "-newkey",
                "ec",
                "-pkeyopt",
            ])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650"])
            .args(["-keyout", &p(&pki.ca_key), "-out", &p(&pki.ca_crt)])
            .run()?;
        openssl()
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &p(&pki.sa_key),
            ])
            .run()?;
        openssl()
            .args([
                "pkey",
                "-in",
                &p(&pki.sa_key),
                "-pubout",
                "-out",
                &p(&pki.sa_pub),
            ])
            .run()?;
        Ok(pki)
    }

    /// The CA certificate as PEM text.
    pub fn ca_pem(&self) -> Result<String> {
        fs::read_to_string(&self.ca_crt).map_err(io_err(p(&self.ca_crt)))
    }

    /// A serving certificate `<name>.crt`/`<name>.key` for `ips` and `dns` names, signed by the CA.
    pub fn serving_cert(
        &self,
        name: &str,
        cn: &str,
        ips: &[IpAddr],
        dns: &[String],
    ) -> Result<ServingCert> {
        if ips.is_empty() && dns.is_empty() {
            return Err(NetnsError::Spec(format!("certificate {name}: no SAN")));
        }
        let crt = self.dir.join(format!("{name}.crt"));
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        let ext = self.dir.join(format!("{name}.ext"));
        let mut sans: Vec<String> = ips.iter().map(|i| format!("IP:{i}")).collect();
        sans.extend(dns.iter().map(|d| format!("DNS:{d}")));
        let text = format!(
            "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = {}\n",
            sans.join(",")
        );
        fs::write(&ext, text).map_err(io_err(p(&ext)))?;
        openssl()
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .args([
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &p(&key),
                "-out",
                &p(&csr),
            ])
            .run()?;
        openssl()
            .args([
                "x509",
                "-req",
                "-in",
                &p(&csr),
                "-CA",
                &p(&self.ca_crt),
                "-CAkey",
                &p(&self.ca_key),
            ])
            .args([
                "-set_serial",
                &format!("0x{}", random_hex(8)?),
                "-days",
                "365",
            ])
            .args(["-extfile", &p(&ext), "-out", &p(&crt)])
            .run()?;
        Ok(ServingCert { crt, key })
    }
}

/// `n` random bytes from /dev/urandom as lowercase hex.
pub fn random_hex(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io_err("read /dev/urandom"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh bearer token (32 hex characters).
pub fn random_token() -> Result<String> {
    random_hex(16)
}
