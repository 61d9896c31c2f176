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

/// A package of its own (not a member of the Oasis workspace), with the
/// profiles guest images need.
fn standalone_manifest(name: &str, checkout: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
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
        oasis = checkout.join("oasis").display()
    )
}

fn valid_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `oasis new NAME --dir DIR`.
pub fn new(name: &str, dir: &Path) -> Result<()> {
    if !valid_package_name(name) {
        bail!("invalid name '{name}': use lowercase letters, digits, - and _, starting with a letter");
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    std::fs::create_dir_all(root.join("src")).with_context(|| format!("creating {}", root.display()))?;
    let checkout = oasis_checkout();
    let in_workspace = dir.canonicalize().ok().is_some_and(|d| d == checkout.join("unikernels"));
    let cargo = if in_workspace {
        format!(
            "[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\npublish = false\n\n[dependencies]\noasis.workspace = true\n\n[lints]\nworkspace = true\n"
        )
    } else {
        standalone_manifest(name, &checkout)
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
