//! `oasis build`: compile a unikernel package for a target.
//!
//! How each target's image is built comes from the table of targets
//! (`oasis-targets`): hvt and spt share one image (the guest picks its
//! hypercall path from boot info), built for `x86_64-unknown-none` with the
//! guest profile; unix is the same source built as a host program.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use oasis_targets::{Build, Target};

/// `--target NAME`: a row of the table of targets, with the names listed
/// in help and errors.
pub fn target_parser() -> impl clap::builder::TypedValueParser<Value = &'static Target> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(oasis_targets::names())
        .try_map(|name: String| oasis_targets::find(&name).ok_or(format!("no target named {name}")))
}

/// The `.cargo/config.toml` lines that give a guest build its flags, for
/// a plain `cargo build` (the workspace's own file, and the one `oasis
/// new` writes into a package of its own). `oasis build` does not rely on
/// them: see [`plan`]. A test keeps the workspace's config in step.
pub fn guest_cargo_config(build: &Build) -> String {
    match build {
        Build::Guest { triple, rustflags, .. } => {
            let quoted: Vec<String> = rustflags.iter().map(|f| format!("\"{f}\"")).collect();
            format!("[target.{triple}]\nrustflags = [{}]\n", quoted.join(", "))
        }
        Build::Host { .. } => String::new(),
    }
}

/// The build of guest images (hvt and spt share it).
pub fn guest_build() -> &'static Build {
    &oasis_targets::TARGETS.iter().find(|t| t.build.triple().is_some()).unwrap_or(&oasis_targets::TARGETS[0]).build
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
///
/// A guest build's flags travel with the command, as `RUSTFLAGS`, so the
/// build does not depend on where cargo runs or which `.cargo/config.toml`
/// files lie above the package: cargo takes its flags from the first
/// source set (`CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, then the config
/// files' `rustflags`, which it joins across files), so the variable
/// replaces the files' flags instead of adding to them. Joining is what
/// breaks a package nested under the checkout: the linker script given
/// twice fails to link.
pub fn plan(manifest: &Path, target: &Target, target_dir: &Path) -> Plan {
    let mut env = Vec::new();
    if let Build::Guest { rustflags, .. } = &target.build {
        env.push(("RUSTFLAGS".to_string(), rustflags.join(" ")));
    }
    env.push(("CARGO_TARGET_DIR".to_string(), target_dir.display().to_string()));
    let mut args = vec!["build".to_string(), "--manifest-path".into(), manifest.display().to_string()];
    args.extend(target.build.cargo_args());
    args.push("--message-format=json-render-diagnostics".into());
    Plan { env, args }
}

/// The workspace root of the package at `manifest`.
fn workspace_root(manifest: &Path) -> Result<PathBuf> {
    let out = crate::toolchain::command("cargo")?
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

/// Whether the standard library for the Rust target `triple` is installed.
pub fn rust_target_installed(triple: &str) -> Result<bool> {
    let sysroot = crate::toolchain::command("rustc")?.args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    Ok(sysroot.join("lib/rustlib").join(triple).is_dir())
}

/// Installs the Rust target `triple` with rustup when it is missing.
pub fn ensure_rust_target(triple: &str) -> Result<()> {
    if rust_target_installed(triple)? {
        return Ok(());
    }
    eprintln!("oasis: installing the Rust target {triple} (rustup target add {triple})");
    let status = crate::toolchain::command("rustup")?
        .args(["target", "add", triple])
        .status()
        .with_context(|| format!("running rustup; install the target by hand: rustup target add {triple}"))?;
    if !status.success() {
        bail!("rustup target add {triple} failed");
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
pub fn build_with(dir: &Path, target: &Target, features: &[&str], kv: &[(String, PathBuf)]) -> Result<PathBuf> {
    let package = crate::package::unikernel(dir)?;
    let manifest = dir.join("Cargo.toml");
    let manifest = manifest.canonicalize().with_context(|| format!("reading {}", manifest.display()))?;
    if let Some(triple) = target.build.triple() {
        ensure_rust_target(triple)?;
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
    // From the package's directory, so the package's own configuration
    // (registries, a pinned toolchain) applies wherever `oasis` is run.
    let package_dir = manifest.parent().unwrap_or(Path::new("."));
    let mut cargo = crate::toolchain::command("cargo")?;
    cargo
        .current_dir(package_dir)
        // It would take precedence over the flags the plan sets.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k, v)));
    let (status, stdout) = run_cargo(cargo, &format!("building {} for {}", package.name, target.name))?;
    let image = find_executable(&stdout, &manifest);
    if !status.success() {
        bail!("cargo build failed for {}", dir.display());
    }
    image.ok_or_else(|| anyhow!("cargo built {} but reported no executable", dir.display()))
}

/// Runs a cargo build whose stdout is JSON messages, and returns its status
/// and those messages.
///
/// Quiet unless `-v`: cargo's stderr (its progress, and the compiler's
/// diagnostics, which `json-render-diagnostics` renders there) is kept and
/// shown in full only when the build fails; a terminal sees one progress
/// line meanwhile, fed by the messages as crates finish.
fn run_cargo(mut cargo: Command, what: &str) -> Result<(ExitStatus, Vec<u8>)> {
    if crate::ui::verbose() {
        let out = cargo.stderr(Stdio::inherit()).output().context("running cargo")?;
        return Ok((out.status, out.stdout));
    }
    if crate::ui::colour() {
        // Diagnostics replayed on a colour terminal keep cargo's colours.
        cargo.arg("--color=always");
    }
    let mut child = cargo.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("running cargo")?;
    let mut stderr_pipe = child.stderr.take().context("cargo's stderr")?;
    // Read in a thread so that neither pipe fills while the other is read.
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    let progress = crate::ui::Progress::new();
    progress.set(&format!("oasis: {what}…"));
    let mut stdout = Vec::new();
    let mut built = 0usize;
    if let Some(pipe) = child.stdout.take() {
        for line in BufReader::new(pipe).split(b'\n') {
            let line = line.context("reading cargo's output")?;
            if let Ok(m) = serde_json::from_slice::<serde_json::Value>(&line)
                && m["reason"] == "compiler-artifact"
            {
                built += 1;
                let name = m["target"]["name"].as_str().unwrap_or("");
                progress.set(&format!("oasis: {what}… {name} ({built} done)"));
            }
            stdout.extend_from_slice(&line);
            stdout.push(b'\n');
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    let stderr = stderr.join().unwrap_or_default();
    drop(progress);
    if !status.success() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&stderr);
        let _ = err.flush();
    }
    Ok((status, stdout))
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
pub fn build_command(dir: &Path, target: &Target, dry_run: bool, kv: &[(String, PathBuf)]) -> Result<()> {
    if dry_run {
        crate::package::unikernel(dir)?;
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

    fn target(name: &str) -> &'static Target {
        oasis_targets::find(name).unwrap()
    }

    #[test]
    fn guest_plan() {
        let p = plan(Path::new("unikernels/hello/Cargo.toml"), target("spt"), Path::new("target/oasis"));
        assert_eq!(
            p.to_string(),
            "RUSTFLAGS='-C link-arg=-Toasis-guest.ld -C relocation-model=static' CARGO_TARGET_DIR='target/oasis' \
             cargo build --manifest-path unikernels/hello/Cargo.toml --profile guest --target x86_64-unknown-none --message-format=json-render-diagnostics"
        );
        assert_eq!(
            plan(Path::new("a/Cargo.toml"), target("hvt"), Path::new("t")),
            plan(Path::new("a/Cargo.toml"), target("spt"), Path::new("t"))
        );
    }

    #[test]
    fn unix_plan() {
        let p = plan(Path::new("x/Cargo.toml"), target("unix"), Path::new("t"));
        assert_eq!(
            p.to_string(),
            "CARGO_TARGET_DIR='t' cargo build --manifest-path x/Cargo.toml --profile release --message-format=json-render-diagnostics"
        );
    }

    #[test]
    fn cargo_config_matches_the_table_of_targets() {
        let config = include_str!("../../.cargo/config.toml");
        assert!(
            config.contains(&guest_cargo_config(guest_build())),
            "keep .cargo/config.toml in step with oasis-targets"
        );
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
