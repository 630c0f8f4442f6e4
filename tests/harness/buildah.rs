//! buildah with its own storage, making images as the tutorial does: one per architecture.

use super::{Output, tempdir, tool};

pub struct Buildah {
    storage: tempfile::TempDir,
}

impl Buildah {
    pub fn new() -> Self {
        Buildah { storage: tempdir() }
    }

    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Output {
        let root = self.storage.path().join("root");
        let runroot = self.storage.path().join("runroot");
        let mut all = vec![
            "--root",
            root.to_str().expect("utf-8 path"),
            "--runroot",
            runroot.to_str().expect("utf-8 path"),
            "--storage-driver",
            "vfs",
        ];
        all.extend_from_slice(args);
        tool("buildah", &all).run().success()
    }

    /// Builds a scratch image holding `hello.txt` for `platform` and pushes it to `dest`
    /// (HOST/REPO:TAG). Returns the pushed manifest digest.
    pub fn hello_image(&self, platform: &str, dest: &str) -> String {
        let mut parts = platform.split('/');
        let (os, arch, variant) = (
            parts.next().expect("os"),
            parts.next().expect("arch"),
            parts.next(),
        );
        let container = self.run(&["from", "scratch"]).stdout.trim().to_owned();
        let file = self.storage.path().join("hello.txt");
        std::fs::write(&file, format!("hello from {platform}\n")).expect("write file");
        self.run(&[
            "copy",
            &container,
            file.to_str().expect("utf-8 path"),
            "/hello.txt",
        ]);
        let mut config = vec!["config", "--os", os, "--arch", arch];
        if let Some(variant) = variant {
            config.extend(["--variant", variant]);
        }
        config.push(&container);
        self.run(&config);
        let name = format!("localhost/hello-{}", platform.replace('/', "-"));
        self.run(&["commit", "--quiet", "--format", "oci", &container, &name]);
        let digest_file = self.storage.path().join("digest");
        self.run(&[
            "push",
            "--quiet",
            "--tls-verify=false",
            "--digestfile",
            digest_file.to_str().expect("utf-8 path"),
            &name,
            &format!("docker://{dest}"),
        ]);
        std::fs::read_to_string(digest_file)
            .expect("digest file")
            .trim()
            .to_owned()
    }
}
