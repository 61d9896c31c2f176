//! `oasis new`: a unikernel package from a template.

use std::path::Path;

use anyhow::{Context, Result, bail};

const MAIN_RS: &str = r#"//! __NAME__: a new Oasis unikernel.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use oasis::Os;
use oasis::alloc::string::String;

#[oasis::main]
async fn main(os: Os) -> Result<(), oasis::ArgError> {
    let mut args = os.args().parser();
    let name: String = args.value("--name")?.unwrap_or_else(|| "world".into());
    args.finish()?;
    oasis::log::info!("hello, {name}! running on {}", os.platform_name());
    Ok(())
}
"#;

/// The Oasis source tree this `oasis` was built from; new packages outside
/// it depend on its `oasis` crate by path.
fn oasis_checkout() -> std::path::PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent().unwrap_or(cli).to_path_buf()
}

/// `to` as a path relative to the directory `from` (both absolute and
/// canonical), or `to` itself when they share nothing but the root.
fn relative(from: &Path, to: &Path) -> std::path::PathBuf {
    let (from_parts, to_parts): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from_parts.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return to.to_path_buf();
    }
    let mut out = std::path::PathBuf::new();
    for _ in common..from_parts.len() {
        out.push("..");
    }
    out.extend(&to_parts[common..]);
    out
}

/// A package of its own (not a member of the Oasis workspace), with the
/// profiles guest images need; `oasis` is the path to the oasis crate.
fn standalone_manifest(name: &str, oasis: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
# Relative to this package: moving both together keeps it; `oasis build`
# says so when it is gone.
oasis = {{ path = "{oasis}" }}

# Not part of another workspace.
[workspace]

[profile.release]
lto = true
codegen-units = 1
panic = "abort"

# Guest images (hvt, spt): `oasis build` uses this profile.
[profile.guest]
inherits = "release"
opt-level = "s"
"#,
        oasis = oasis.display()
    )
}

fn valid_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `oasis new NAME [--dir DIR]`.
pub fn new(name: &str, dir: Option<&Path>) -> Result<()> {
    if !valid_package_name(name) {
        bail!("invalid name '{name}': use lowercase letters, digits, - and _, starting with a letter");
    }
    let checkout = oasis_checkout();
    let at_checkout_top =
        std::env::current_dir().ok().and_then(|d| d.canonicalize().ok()) == checkout.canonicalize().ok();
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None if at_checkout_top => Path::new("unikernels").to_path_buf(),
        None => Path::new(".").to_path_buf(),
    };
    let dir = dir.as_path();
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    if !checkout.join("oasis/Cargo.toml").is_file() {
        bail!(
            "the Oasis checkout this oasis was built from ({}) is gone: reinstall oasis from the checkout",
            checkout.display()
        );
    }
    std::fs::create_dir_all(root.join("src")).with_context(|| format!("creating {}", root.display()))?;
    let in_workspace = dir.canonicalize().ok().is_some_and(|d| d == checkout.join("unikernels"));
    let cargo = if in_workspace {
        format!(
            "[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\npublish = false\n\n[dependencies]\noasis.workspace = true\n\n[lints]\nworkspace = true\n"
        )
    } else {
        let package = root.canonicalize().with_context(|| format!("reading {}", root.display()))?;
        let oasis = checkout.canonicalize().unwrap_or(checkout.clone()).join("oasis");
        standalone_manifest(name, &relative(&package, &oasis))
    };
    std::fs::write(root.join("Cargo.toml"), cargo).context("writing Cargo.toml")?;
    std::fs::write(root.join("src/main.rs"), MAIN_RS.replace("__NAME__", name)).context("writing src/main.rs")?;
    if !in_workspace {
        std::fs::create_dir_all(root.join(".cargo")).context("creating .cargo")?;
        let config = format!(
            "# Guest images: a static ELF laid out by the Oasis guest linker script.\n{}",
            crate::build::guest_cargo_config(crate::build::guest_build())
        );
        std::fs::write(root.join(".cargo/config.toml"), config).context("writing .cargo/config.toml")?;
    }
    println!("created {}", root.display());
    println!("build and run it: oasis run {}", root.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oasis_path_is_relative_when_the_trees_meet() {
        let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(rel("/home/u/greeter", "/home/u/src/oasis/oasis"), Path::new("../src/oasis/oasis"));
        assert_eq!(rel("/home/u/oasis/x/y", "/home/u/oasis/oasis"), Path::new("../../oasis"));
        assert_eq!(rel("/tmp/greeter", "/work/oasis/oasis"), Path::new("/work/oasis/oasis"));
    }
}
