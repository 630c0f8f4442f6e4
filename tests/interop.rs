//! Interop with tools no one here wrote: what buildah pushes, multiarch stitches; what multiarch
//! writes, skopeo, buildah and umoci read.

use crate::harness::buildah::Buildah;
use crate::harness::schema::{self, Kind};
use crate::harness::{Registry, fixtures, multiarch, oci, skopeo_copy_all, tempdir, tool};

#[test]
fn buildah_images_in_skopeo_and_buildah_out() {
    let registry = Registry::start();
    let repo = registry.at("interop/app");
    let buildah = Buildah::new();
    for arch in ["amd64", "arm64"] {
        buildah.hello_image(&format!("linux/{arch}"), &format!("{repo}:{arch}"));
    }
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:v1"),
        &format!("{repo}:amd64"),
        &format!("{repo}:arm64"),
    ])
    .run()
    .success();

    // skopeo copies the whole index and every manifest in it validates against the OCI schemas.
    let copy = tempdir();
    skopeo_copy_all(&format!("{repo}:v1"), copy.path(), "v1");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copy.path().join("index.json")).unwrap()).unwrap();
    schema::assert_valid(
        Kind::Index,
        &std::fs::read(copy.path().join("index.json")).unwrap(),
    );
    let top = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let blob = |hex: &str| std::fs::read(copy.path().join("blobs/sha256").join(hex)).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&blob(&top)).unwrap();
    schema::assert_valid(Kind::Index, &blob(&top));
    for child in ours["manifests"].as_array().unwrap() {
        let manifest = blob(
            child["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
        schema::assert_valid(Kind::Manifest, &manifest);
        let parsed: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        schema::assert_valid(
            Kind::Config,
            &blob(
                parsed["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        );
    }

    // buildah pulls each platform out of the index multiarch pushed.
    for arch in ["amd64", "arm64"] {
        let image = buildah
            .run(&[
                "pull",
                "--quiet",
                "--tls-verify=false",
                "--arch",
                arch,
                &format!("docker://{repo}:v1"),
            ])
            .stdout
            .trim()
            .to_owned();
        let pulled = buildah.run(&["inspect", "--format", "{{.OCIv1.Architecture}}", &image]);
        assert_eq!(pulled.stdout.trim(), arch);
    }
}

#[test]
fn an_index_in_a_layout_unpacks_with_umoci_per_platform() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64", "linux/s390x"]);
    let layout = tempdir();
    let target = oci(&layout.path().join("out"), "latest");
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &target,
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
        &format!("{repo}:s390x-latest"),
    ])
    .run()
    .success();
    schema::assert_valid(
        Kind::Layout,
        &std::fs::read(layout.path().join("out/oci-layout")).unwrap(),
    );
    schema::assert_valid(
        Kind::Index,
        &std::fs::read(layout.path().join("out/index.json")).unwrap(),
    );

    for arch in ["arm64", "s390x"] {
        let single = layout.path().join(format!("single-{arch}"));
        tool(
            "skopeo",
            &[
                "copy",
                "--override-arch",
                arch,
                &target,
                &oci(&single, arch),
            ],
        )
        .run()
        .success();
        let bundle = layout.path().join(format!("bundle-{arch}"));
        tool(
            "umoci",
            &[
                "unpack",
                "--rootless",
                "--image",
                &format!("{}:{arch}", single.display()),
                bundle.to_str().unwrap(),
            ],
        )
        .run()
        .success();
        let hello = std::fs::read_to_string(bundle.join("rootfs/hello.txt")).unwrap();
        assert_eq!(
            hello,
            format!("hello from linux/{arch}\n"),
            "the right bytes under the right platform"
        );
    }
}
