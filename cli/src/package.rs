//! What `oasis build` and `oasis run` are given: a unikernel's package
//! directory, told apart from other cargo packages before cargo runs, so a
//! wrong directory is one line ("not an Oasis unikernel") rather than a
//! page of rustc errors.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

/// A cargo package that depends on the `oasis` crate.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its directory, as given.
    pub dir: PathBuf,
    /// Its name (`[package] name`): names its disks and its runs.
    pub name: String,
}

/// Checks that `dir` holds an Oasis unikernel's package and reads its name.
pub fn unikernel(dir: &Path) -> Result<Package> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} has no Cargo.toml: give a unikernel's package directory (or, to `oasis run`, a built image)",
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let name = unikernel_name(&text).map_err(|why| anyhow!("{}: not an Oasis unikernel: {why}", dir.display()))?;
    if let Some(path) = oasis_path(&text)
        && !dir.join(&path).join("Cargo.toml").is_file()
    {
        bail!(
            "{}: the oasis crate it depends on, at {} (relative to the package), is gone (a moved checkout?): \
             point `oasis = {{ path = … }}` in its Cargo.toml at the checkout's oasis/ directory",
            dir.display(),
            path
        );
    }
    Ok(Package { dir: dir.to_path_buf(), name })
}

/// The path of the `oasis` dependency, when it is given by path.
fn oasis_path(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("dependencies")?.get("oasis")?.get("path")?.as_str().map(str::to_string)
}

/// The package name in a manifest's text, if it is a unikernel's: a
/// `[package]` that depends on `oasis` (by that name, as
/// `oasis.workspace = true`, or renamed with `package = "oasis"`).
fn unikernel_name(text: &str) -> Result<String, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        format!("its Cargo.toml is not valid TOML ({})", e.message().lines().next().unwrap_or("parse error"))
    })?;
    let Some(package) = doc.get("package") else {
        return Err("its Cargo.toml is a workspace's, not a package's (give one of its unikernels)".into());
    };
    let name = package.get("name").and_then(|n| n.as_str()).ok_or("its Cargo.toml names no package")?;
    let depends_on_oasis = doc.get("dependencies").and_then(|d| d.as_table_like()).is_some_and(|deps| {
        deps.iter().any(|(key, value)| key == "oasis" || value.get("package").and_then(|p| p.as_str()) == Some("oasis"))
    });
    if !depends_on_oasis {
        return Err(format!("package {name} does not depend on the oasis crate"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unikernel_depends_on_oasis() {
        let hello = "[package]\nname = \"hello\"\n[dependencies]\noasis.workspace = true\n";
        assert_eq!(unikernel_name(hello), Ok("hello".into()));
        let standalone = "[package]\nname = \"greeter\"\n[dependencies]\noasis = { path = \"../oasis\" }\n";
        assert_eq!(unikernel_name(standalone), Ok("greeter".into()));
        let renamed = "[package]\nname = \"r\"\n[dependencies]\nos = { package = \"oasis\", path = \"x\" }\n";
        assert_eq!(unikernel_name(renamed), Ok("r".into()));
    }

    #[test]
    fn other_manifests_are_refused_saying_why() {
        let cli = "[package]\nname = \"oasis-cli\"\n[dependencies]\nclap = \"4\"\n";
        assert_eq!(unikernel_name(cli), Err("package oasis-cli does not depend on the oasis crate".into()));
        let workspace = "[workspace]\nmembers = [\"a\"]\n";
        assert!(unikernel_name(workspace).unwrap_err().contains("a workspace's"));
        assert!(unikernel_name("[package\n").unwrap_err().contains("not valid TOML"));
    }
}
