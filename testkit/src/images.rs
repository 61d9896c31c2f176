//! Building the unikernels and test images, once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where built images are.
#[derive(Clone, Debug)]
pub struct Images {
    dir: PathBuf,
}

impl Images {
    /// The image of the binary `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        assert!(p.is_file(), "no image {}", p.display());
        p
    }
}

/// Packages built for the tests: the test guests and every unikernel.
const PACKAGES: &[&str] = &["oasis-test-guests", "hello", "echo", "kv"];

fn cargo_build(extra: &[&str]) {
    cargo_build_into("target/oasis", PACKAGES, extra);
}

fn cargo_build_into(dir: &str, packages: &[&str], extra: &[&str]) {
    let root = workspace_root();
    let mut cmd = Command::new(env!("CARGO"));
    // A target directory of our own: the one `cargo test` is using stays
    // locked while tests run.
    cmd.current_dir(&root).env("CARGO_TARGET_DIR", root.join(dir)).arg("build").arg("--quiet");
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.args(extra);
    let status = cmd.status().expect("running cargo");
    assert!(status.success(), "building test images failed: {cmd:?}");
}

/// Guest images (hvt and spt share them), built on first use.
pub fn guest_images() -> Images {
    static ONCE: OnceLock<Images> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build(&["--profile", "guest", "--target", "x86_64-unknown-none"]);
        Images { dir: workspace_root().join("target/oasis/x86_64-unknown-none/guest") }
    })
    .clone()
}

/// The same programs built for the unix target, on first use.
pub fn unix_images() -> Images {
    static ONCE: OnceLock<Images> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build(&["--release"]);
        Images { dir: workspace_root().join("target/oasis/release") }
    })
    .clone()
}

/// The networked unikernels built for the unix target with their own stack
/// on a TAP (`--features unix-tap`), on first use.
pub fn unix_tap_images() -> Images {
    static ONCE: OnceLock<Images> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build_into("target/oasis/unix-tap", &["echo"], &["--release", "--features", "echo/unix-tap"]);
        Images { dir: workspace_root().join("target/oasis/unix-tap/release") }
    })
    .clone()
}

/// The `oasis` command, built (debug) into the test target directory on
/// first use: for test packages other than the CLI's own.
pub fn oasis_binary() -> std::path::PathBuf {
    static ONCE: OnceLock<std::path::PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        cargo_build_into("target/oasis", &["oasis-cli"], &[]);
        workspace_root().join("target/oasis/debug/oasis")
    })
    .clone()
}
