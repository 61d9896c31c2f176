//! Building the unikernels and test images, once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

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

fn cargo_build(extra: &[String]) {
    cargo_build_into("target/oasis", PACKAGES, extra);
}

fn cargo_build_into(dir: &str, packages: &[&str], extra: &[String]) {
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

/// The images of one build of the table of targets, built on first use
/// (once per build: hvt and spt share theirs).
pub fn images(target: &oasis_targets::Target) -> Images {
    static BUILT: Mutex<Vec<(&'static oasis_targets::Build, Images)>> = Mutex::new(Vec::new());
    let row = oasis_targets::find(target.name).expect("a target of the table");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, images)) = built.iter().find(|(b, _)| **b == row.build) {
        return images.clone();
    }
    cargo_build(&row.build.cargo_args());
    let images = Images { dir: row.build.output_dir(&workspace_root().join("target/oasis")) };
    built.push((&row.build, images.clone()));
    images
}

/// Guest images (hvt and spt share them), built on first use.
pub fn guest_images() -> Images {
    images(oasis_targets::find("spt").expect("spt is a target"))
}

/// The same programs built for the unix target, on first use.
pub fn unix_images() -> Images {
    images(oasis_targets::find("unix").expect("unix is a target"))
}

/// The networked unikernels built for the unix target with their own stack
/// on a TAP (`--features unix-tap`), on first use.
pub fn unix_tap_images() -> Images {
    static ONCE: OnceLock<Images> = OnceLock::new();
    ONCE.get_or_init(|| {
        let args = ["--release", "--features", "echo/unix-tap"].map(String::from);
        cargo_build_into("target/oasis/unix-tap", &["echo"], &args);
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
