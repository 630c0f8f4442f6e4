//! The optional workspaces: `dockerconfig` (registry credentials) and `sslcertdir` (CA
//! certificates), turned into the core's registry settings.

use std::path::{Path, PathBuf};

use anyhow::Result;
use multiarch_core::store::RegistryOptions;

use crate::params::Common;
use crate::usage;

/// The files a `dockerconfig` workspace may hold, in the order they are looked for: a Docker
/// `config.json`, or the key of a `kubernetes.io/dockerconfigjson` Secret.
const AUTH_FILES: [&str; 2] = ["config.json", ".dockerconfigjson"];

/// The registry settings for a Task: the binary's (`base`), plus the workspaces' auth file
/// (consulted first) and CA files, and, when `TLSVERIFY` is false, plain HTTP for `hosts`.
pub fn registry_options(
    common: &Common,
    base: RegistryOptions,
    hosts: &[&str],
) -> Result<RegistryOptions> {
    let mut options = base;
    if let Some(dir) = &common.dockerconfig {
        let file = auth_file(dir)?;
        tracing::info!("registry credentials from {}", file.display());
        options.auth_files.insert(0, file);
    }
    if let Some(dir) = &common.sslcertdir {
        let files = ca_files(dir)?;
        tracing::info!(
            "trusting the CA certificates in {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        options.ca_files.extend(files);
    }
    if !common.tls_verify {
        for host in hosts {
            if !options.insecure.iter().any(|h| h == host) {
                tracing::info!("TLSVERIFY is false: {host} may be reached over plain HTTP");
                options.insecure.push((*host).to_owned());
            }
        }
    }
    Ok(options)
}

/// The auth file of a bound `dockerconfig` workspace.
pub fn auth_file(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(usage(format!(
            "the dockerconfig workspace is bound, but {} is not a directory",
            dir.display()
        )));
    }
    AUTH_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            usage(format!(
                "the dockerconfig workspace ({}) holds neither {} nor {}: bind a Secret of type \
                 kubernetes.io/dockerconfigjson, or a volume with a Docker config.json",
                dir.display(),
                AUTH_FILES[0],
                AUTH_FILES[1]
            ))
        })
}

/// Every `*.crt` and `*.pem` file of a bound `sslcertdir` workspace, sorted. The hidden entries
/// Kubernetes puts in Secret and ConfigMap volumes (`..data`, …) are skipped.
pub fn ca_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        usage(format!(
            "the sslcertdir workspace is bound, but {} cannot be read: {e}",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            usage(format!(
                "the sslcertdir workspace: reading {}: {e}",
                dir.display()
            ))
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_cert = !name.starts_with('.')
            && Path::new(&*name).extension().is_some_and(|ext| {
                ext.eq_ignore_ascii_case("crt") || ext.eq_ignore_ascii_case("pem")
            });
        // is_file follows symlinks: Secret volumes link each key into `..data`.
        if is_cert && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    if files.is_empty() {
        return Err(usage(format!(
            "the sslcertdir workspace ({}) has no *.crt or *.pem file: put the CA certificates \
             (PEM) in it, e.g. from a ConfigMap with a ca.crt key",
            dir.display()
        )));
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(dockerconfig: Option<&Path>, sslcertdir: Option<&Path>, tls_verify: bool) -> Common {
        Common {
            image: "registry.example.com/team/app".parse().unwrap(),
            tls_verify,
            dockerconfig: dockerconfig.map(Path::to_owned),
            sslcertdir: sslcertdir.map(Path::to_owned),
        }
    }

    fn base() -> RegistryOptions {
        RegistryOptions {
            auth_files: vec![PathBuf::from("/home/user/.docker/config.json")],
            ca_files: vec![PathBuf::from("/etc/ssl/extra.pem")],
            insecure: vec!["other.example.com".into()],
            ..RegistryOptions::default()
        }
    }

    #[test]
    fn a_docker_config_json_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".dockerconfigjson"), "{}").unwrap();
        let options = registry_options(&common(Some(dir.path()), None, true), base(), &[]).unwrap();
        assert_eq!(
            options.auth_files,
            [
                dir.path().join("config.json"),
                PathBuf::from("/home/user/.docker/config.json")
            ]
        );
        assert_eq!(options.insecure, ["other.example.com"], "TLSVERIFY true");
        assert_eq!(options.ca_files, [PathBuf::from("/etc/ssl/extra.pem")]);
    }

    #[test]
    fn a_dockerconfigjson_secret_works_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerconfigjson"), "{}").unwrap();
        assert_eq!(
            auth_file(dir.path()).unwrap(),
            dir.path().join(".dockerconfigjson")
        );
    }

    #[test]
    fn an_empty_dockerconfig_says_what_it_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockercfg"), "{}").unwrap();
        let error = auth_file(dir.path()).unwrap_err();
        assert!(error.chain().any(|c| c.is::<crate::UsageError>()));
        let error = format!("{error:#}");
        assert!(
            error.contains("neither config.json nor .dockerconfigjson"),
            "{error}"
        );
        let error = format!("{:#}", auth_file(&dir.path().join("missing")).unwrap_err());
        assert!(error.contains("not a directory"), "{error}");
    }

    #[test]
    fn every_crt_and_pem_of_the_sslcertdir_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.crt",
            "a.pem",
            "C.PEM",
            "key.key",
            "README",
            ".hidden.crt",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // Like a Secret volume: `..data/ca.crt` and a `ca.crt` symlink to it.
        std::fs::create_dir(dir.path().join("..data")).unwrap();
        std::fs::write(dir.path().join("..data/ca.crt"), "x").unwrap();
        std::os::unix::fs::symlink("..data/ca.crt", dir.path().join("ca.crt")).unwrap();
        std::fs::create_dir(dir.path().join("dir.crt")).unwrap();
        let options = registry_options(&common(None, Some(dir.path()), true), base(), &[]).unwrap();
        let names: Vec<String> = options
            .ca_files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["extra.pem", "C.PEM", "a.pem", "b.crt", "ca.crt"]);
    }

    #[test]
    fn an_sslcertdir_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.key"), "x").unwrap();
        let error = format!("{:#}", ca_files(dir.path()).unwrap_err());
        assert!(error.contains("no *.crt or *.pem file"), "{error}");
        let error = format!("{:#}", ca_files(&dir.path().join("missing")).unwrap_err());
        assert!(error.contains("cannot be read"), "{error}");
    }

    #[test]
    fn tlsverify_false_allows_plain_http_to_the_hosts() {
        let options = registry_options(
            &common(None, None, false),
            base(),
            &["registry.example.com", "other.example.com"],
        )
        .unwrap();
        assert_eq!(
            options.insecure,
            ["other.example.com", "registry.example.com"]
        );
        let options =
            registry_options(&common(None, None, true), base(), &["registry.example.com"]).unwrap();
        assert_eq!(options.insecure, ["other.example.com"]);
    }
}
