//! `oasis build`: compile a unikernel package for a target.
//!
//! hvt and spt share one image (the guest picks its hypercall path from
//! boot info), built for `x86_64-unknown-none` with the guest profile;
//! unix is the same source built as a host program.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

/// The Rust target of guest images.
pub const GUEST_TRIPLE: &str = "x86_64-unknown-none";

/// Flags every guest image is linked with. They reach cargo through
/// `.cargo/config.toml` — the workspace's, or the one `oasis new` writes
/// into a package of its own — never through the environment: cargo joins
/// list values from both, and a linker script given twice fails to link.
/// A test keeps the workspace's config in step with this.
pub const GUEST_RUSTFLAGS: &str = "-C link-arg=-Toasis-guest.ld -C relocation-model=static";

/// The `.cargo/config.toml` lines that give guest builds their flags.
pub fn guest_cargo_config() -> String {
    let quoted: Vec<String> = GUEST_RUSTFLAGS.split(' ').map(|f| format!("\"{f}\"")).collect();
    format!("[target.{GUEST_TRIPLE}]\nrustflags = [{}]\n", quoted.join(", "))
}

/// Where a unikernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// KVM, through the hvt tender
    Hvt,
    /// A seccomp-sandboxed process, through the spt tender
    Spt,
    /// A plain Linux process
    Unix,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Hvt => "hvt",
            Target::Spt => "spt",
            Target::Unix => "unix",
        })
    }
}

impl Target {
    fn is_guest(self) -> bool {
        self != Target::Unix
    }
}

/// A cargo invocation, shown by `--dry-run` and then run.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Environment set for cargo.
    pub env: Vec<(String, String)>,
    /// cargo's arguments.
    pub args: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}='{v}' ")?;
        }
        write!(f, "cargo {}", self.args.join(" "))
    }
}

/// The cargo command that builds the package at `manifest` for `target`
/// into `target_dir`.
pub fn plan(manifest: &Path, target: Target, target_dir: &Path) -> Plan {
    let env = vec![("CARGO_TARGET_DIR".to_string(), target_dir.display().to_string())];
    let mut args = vec!["build".to_string(), "--manifest-path".into(), manifest.display().to_string()];
    if target.is_guest() {
        args.extend(["--profile".into(), "guest".into(), "--target".into(), GUEST_TRIPLE.into()]);
    } else {
        args.push("--release".into());
    }
    args.push("--message-format=json-render-diagnostics".into());
    Plan { env, args }
}

/// The workspace root of the package at `manifest`.
fn workspace_root(manifest: &Path) -> Result<PathBuf> {
    let out = Command::new("cargo")
        .args(["locate-project", "--workspace", "--message-format", "plain", "--manifest-path"])
        .arg(manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo (is Rust installed?)")?;
    if !out.status.success() {
        bail!("{} is not in a cargo workspace", manifest.display());
    }
    let root_manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(root_manifest.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// Installs the guest's Rust target with rustup when it is missing.
pub fn ensure_guest_target() -> Result<()> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(GUEST_TRIPLE).is_dir() {
        return Ok(());
    }
    eprintln!("oasis: installing the Rust target {GUEST_TRIPLE} (rustup target add {GUEST_TRIPLE})");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TRIPLE])
        .status()
        .with_context(|| format!("running rustup; install the target by hand: rustup target add {GUEST_TRIPLE}"))?;
    if !status.success() {
        bail!("rustup target add {GUEST_TRIPLE} failed");
    }
    Ok(())
}

/// Where `oasis` builds (and keeps disk images) for the package in `dir`:
/// `$OASIS_TARGET_DIR`, else the workspace's `target/oasis`.
pub fn target_dir(dir: &Path) -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("OASIS_TARGET_DIR") {
        return Ok(PathBuf::from(d));
    }
    let manifest =
        dir.join("Cargo.toml").canonicalize().with_context(|| format!("{} has no Cargo.toml", dir.display()))?;
    Ok(workspace_root(&manifest)?.join("target").join("oasis"))
}

/// `--kv NAME=DIR`: compile DIR into the read-only store NAME.
pub fn parse_kv(s: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = s.split_once('=').ok_or("expected NAME=DIR, e.g. htdocs=./site")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!("'{name}' is not a store name (letters, digits, _ and -)"));
    }
    let dir = PathBuf::from(dir);
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    Ok((name.into(), dir))
}

/// The environment variable a package's build script reads for store
/// `name` (see `oasis-kv-build`).
pub fn kv_env(name: &str) -> String {
    format!("OASIS_KV_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// Builds the unikernel in `dir` for `target`, with cargo `features`
/// (`oasis/unix-tap`) and directories compiled into read-only stores
/// (`--kv`); returns the image path.
pub fn build_with(dir: &Path, target: Target, features: &[&str], kv: &[(String, PathBuf)]) -> Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} has no Cargo.toml: give the unikernel's package directory", dir.display());
    }
    let manifest = manifest.canonicalize().with_context(|| format!("reading {}", manifest.display()))?;
    if target.is_guest() {
        ensure_guest_target()?;
    }
    let target_dir = target_dir(dir)?;
    let mut plan = plan(&manifest, target, &target_dir);
    if !features.is_empty() {
        plan.args.push("--features".into());
        plan.args.push(features.join(","));
        // A build with other features must not overwrite the plain one.
        if let Some((_, dir)) = plan.env.iter_mut().find(|(k, _)| k == "CARGO_TARGET_DIR") {
            dir.push_str(&format!("/features-{}", features.join("-").replace('/', "_")));
        }
    }
    add_kv_env(&mut plan, kv)?;
    let out = Command::new("cargo")
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo")?;
    let image = find_executable(&out.stdout, &manifest);
    if !out.status.success() {
        bail!("cargo build failed for {}", dir.display());
    }
    image.ok_or_else(|| anyhow!("cargo built {} but reported no executable", dir.display()))
}

/// Points each `--kv` store's build-script variable at its directory.
fn add_kv_env(plan: &mut Plan, kv: &[(String, PathBuf)]) -> Result<()> {
    for (name, dir) in kv {
        let dir = dir.canonicalize().with_context(|| format!("--kv {name}={}", dir.display()))?;
        plan.env.push((kv_env(name), dir.display().to_string()));
    }
    Ok(())
}

/// Picks the executable built from `manifest` out of cargo's JSON messages.
fn find_executable(json_lines: &[u8], manifest: &Path) -> Option<PathBuf> {
    String::from_utf8_lossy(json_lines)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().is_some_and(|p| Path::new(p) == manifest))
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// `oasis build`.
pub fn build_command(dir: &Path, target: Target, dry_run: bool, kv: &[(String, PathBuf)]) -> Result<()> {
    if dry_run {
        let manifest = dir.join("Cargo.toml");
        let target_dir = PathBuf::from("target/oasis");
        let mut plan = plan(&manifest, target, &target_dir);
        add_kv_env(&mut plan, kv)?;
        println!("{plan}");
        return Ok(());
    }
    let image = build_with(dir, target, &[], kv)?;
    println!("{}", image.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_plan() {
        let p = plan(Path::new("unikernels/hello/Cargo.toml"), Target::Spt, Path::new("target/oasis"));
        assert_eq!(
            p.to_string(),
            "CARGO_TARGET_DIR='target/oasis' \
             cargo build --manifest-path unikernels/hello/Cargo.toml --profile guest --target x86_64-unknown-none --message-format=json-render-diagnostics"
        );
        assert_eq!(
            plan(Path::new("a/Cargo.toml"), Target::Hvt, Path::new("t")),
            plan(Path::new("a/Cargo.toml"), Target::Spt, Path::new("t"))
        );
    }

    #[test]
    fn unix_plan() {
        let p = plan(Path::new("x/Cargo.toml"), Target::Unix, Path::new("t"));
        assert_eq!(
            p.to_string(),
            "CARGO_TARGET_DIR='t' cargo build --manifest-path x/Cargo.toml --release --message-format=json-render-diagnostics"
        );
    }

    #[test]
    fn cargo_config_matches_the_cli_flags() {
        let config = include_str!("../../.cargo/config.toml");
        assert!(config.contains(&guest_cargo_config()), "keep .cargo/config.toml in step with GUEST_RUSTFLAGS");
    }

    #[test]
    fn executable_is_found_in_cargo_messages() {
        let json = br#"{"reason":"compiler-artifact","manifest_path":"/w/dep/Cargo.toml","executable":null}
{"reason":"compiler-artifact","manifest_path":"/w/hello/Cargo.toml","executable":"/w/target/hello"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(find_executable(json, Path::new("/w/hello/Cargo.toml")), Some(PathBuf::from("/w/target/hello")));
        assert_eq!(find_executable(b"not json", Path::new("/w/hello/Cargo.toml")), None);
    }
}
