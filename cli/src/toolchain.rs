//! Finding the Rust toolchain (`cargo`, `rustc`, `rustup`) without relying
//! on the caller's `PATH`.
//!
//! rustup installs into `~/.cargo/bin`, which a login shell puts on `PATH`
//! but `sudo` does not (its `secure_path` replaces `PATH`, and `HOME`
//! becomes root's): `sudo oasis run …` — which hvt and a private network
//! namespace need — would otherwise fail with "running rustc: No such file
//! or directory". So every toolchain command the CLI spawns goes through
//! [`command`], which looks where rustup puts things when `PATH` has no
//! `cargo`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};

/// Where the toolchain was found, and what its commands need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// The directory holding `cargo`, `rustc` and `rustup`; `None` when
    /// they are on `PATH` as it is.
    pub bin: Option<PathBuf>,
    /// How it was found, for `oasis doctor`.
    pub how: String,
    /// Variables set for the toolchain's commands: `PATH` with `bin` first
    /// (cargo runs `rustc` by name), and `CARGO_HOME`/`RUSTUP_HOME` when
    /// the toolchain is another user's (see [`locate`]).
    pub env: Vec<(String, OsString)>,
}

/// What [`locate`] reads of the process's surroundings; a struct so tests
/// can give it made-up ones.
#[derive(Debug, Default)]
pub struct Surroundings {
    /// `$PATH`.
    pub path: Option<OsString>,
    /// `$CARGO_HOME`.
    pub cargo_home: Option<PathBuf>,
    /// `$RUSTUP_HOME`.
    pub rustup_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$SUDO_USER`: who ran `sudo`.
    pub sudo_user: Option<String>,
    /// The text of `/etc/passwd`, for `sudo_user`'s home.
    pub passwd: String,
}

impl Surroundings {
    /// This process's.
    fn current() -> Surroundings {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let sudo_user = var("SUDO_USER").and_then(|u| u.into_string().ok());
        // Only read when SUDO_USER is set; a missing file just means that
        // place is not looked in.
        let mut passwd = String::new();
        if let Some(user) = &sudo_user {
            passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            if home_of(&passwd, user).is_none()
                && let Ok(out) = Command::new("getent").args(["passwd", user]).output()
            {
                // A user from NSS (LDAP, sssd): getent asks libc for us.
                passwd.push_str(&String::from_utf8_lossy(&out.stdout));
            }
        }
        Surroundings {
            path: var("PATH"),
            cargo_home: var("CARGO_HOME").map(PathBuf::from),
            rustup_home: var("RUSTUP_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            sudo_user,
            passwd,
        }
    }
}

/// `user`'s home directory in `/etc/passwd`'s text (name:pw:uid:gid:gecos:home:shell).
/// Parsed rather than asked of libc's `getpwnam`, which would need unsafe
/// code here (users that only NSS knows come from `getent passwd`).
pub fn home_of(passwd: &str, user: &str) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[0] == user && !fields[5].is_empty()).then(|| PathBuf::from(fields[5]))
    })
}

/// Finds the toolchain: `cargo` on `PATH`, else in `$CARGO_HOME/bin`, the
/// `sudo` caller's `~/.cargo/bin`, `$HOME/.cargo/bin`, then
/// `/root/.cargo/bin`. `exists` says whether a file is there (a parameter
/// for tests).
pub fn locate(env: &Surroundings, exists: impl Fn(&Path) -> bool) -> Result<Toolchain, String> {
    let on_path = env.path.as_ref().and_then(|p| std::env::split_paths(p).find(|d| exists(&d.join("cargo"))));
    if let Some(dir) = on_path {
        return Ok(Toolchain { bin: None, how: format!("on PATH ({})", dir.display()), env: vec![] });
    }
    // (directory, how it was found, the home whose .cargo/.rustup it is)
    let mut places: Vec<(PathBuf, String, Option<PathBuf>)> = Vec::new();
    if let Some(ch) = &env.cargo_home {
        places.push((ch.join("bin"), "in $CARGO_HOME/bin".into(), None));
    }
    if let Some(user) = &env.sudo_user
        && let Some(home) = home_of(&env.passwd, user)
    {
        places.push((home.join(".cargo/bin"), format!("in SUDO_USER {user}'s ~/.cargo/bin"), Some(home)));
    }
    if let Some(home) = &env.home {
        places.push((home.join(".cargo/bin"), "in $HOME/.cargo/bin".into(), Some(home.clone())));
    }
    places.push(("/root/.cargo/bin".into(), "in /root/.cargo/bin".into(), Some("/root".into())));
    let Some((bin, how, home)) = places.into_iter().find(|(dir, ..)| exists(&dir.join("cargo"))) else {
        return Err(NOT_FOUND.to_string());
    };
    let mut vars = Vec::new();
    let mut path = OsString::from(bin.as_os_str());
    if let Some(p) = &env.path {
        path.push(":");
        path.push(p);
    }
    vars.push(("PATH".to_string(), path));
    // rustup's proxies find their toolchains under RUSTUP_HOME, which
    // defaults to $HOME/.rustup: under sudo that is root's, which has
    // none. Point both homes at the owner's unless the caller set them.
    // (Root then writes into that user's cargo cache; the alternative,
    // root's own, would download every crate again.)
    if let Some(home) = home {
        if env.cargo_home.is_none() && exists(&home.join(".cargo")) {
            vars.push(("CARGO_HOME".into(), home.join(".cargo").into()));
        }
        if env.rustup_home.is_none() && exists(&home.join(".rustup")) {
            vars.push(("RUSTUP_HOME".into(), home.join(".rustup").into()));
        }
    }
    Ok(Toolchain { bin: Some(bin), how, env: vars })
}

/// The one line said when no toolchain is found anywhere.
const NOT_FOUND: &str = "cargo is not on PATH, nor in $CARGO_HOME/bin, the sudo caller's ~/.cargo/bin or \
                         /root/.cargo/bin: under sudo keep your PATH (sudo env PATH=\"$PATH\" oasis …), \
                         or install Rust with rustup (https://rustup.rs)";

/// This process's toolchain, found once.
pub fn find() -> Result<&'static Toolchain, String> {
    static FOUND: OnceLock<Result<Toolchain, String>> = OnceLock::new();
    FOUND.get_or_init(|| locate(&Surroundings::current(), Path::exists)).as_ref().map_err(Clone::clone)
}

/// A command running the toolchain's `program` (`cargo`, `rustc`,
/// `rustup`), wherever the toolchain was found.
pub fn command(program: &str) -> Result<Command> {
    let toolchain = find().map_err(|e| anyhow!(e))?;
    let mut cmd = match &toolchain.bin {
        Some(bin) => Command::new(bin.join(program)),
        None => Command::new(program),
    };
    cmd.envs(toolchain.env.iter().map(|(k, v)| (k, v)));
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000:Ann,,,:/home/ann:/bin/bash\nbad line\n";

    fn env_of(t: &Toolchain, key: &str) -> Option<String> {
        t.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.to_string_lossy().into_owned())
    }

    #[test]
    fn passwd_gives_homes() {
        assert_eq!(home_of(PASSWD, "ann"), Some(PathBuf::from("/home/ann")));
        assert_eq!(home_of(PASSWD, "root"), Some(PathBuf::from("/root")));
        assert_eq!(home_of(PASSWD, "bob"), None);
        assert_eq!(home_of(PASSWD, "bad line"), None);
    }

    #[test]
    fn path_wins_and_changes_nothing() {
        let env = Surroundings { path: Some("/usr/bin:/opt/rust/bin".into()), ..Default::default() };
        let t = locate(&env, |p| p == Path::new("/opt/rust/bin/cargo")).unwrap();
        assert_eq!((t.bin, t.env), (None, vec![]));
    }

    #[test]
    fn under_sudo_the_callers_toolchain_and_homes_are_used() {
        let env = Surroundings {
            path: Some("/usr/sbin:/usr/bin".into()),
            home: Some("/root".into()),
            sudo_user: Some("ann".into()),
            passwd: PASSWD.into(),
            ..Default::default()
        };
        let ann = |p: &Path| p.starts_with("/home/ann");
        let t = locate(&env, ann).unwrap();
        assert_eq!(t.bin, Some(PathBuf::from("/home/ann/.cargo/bin")));
        assert!(t.how.contains("SUDO_USER ann"), "{}", t.how);
        assert_eq!(env_of(&t, "PATH").as_deref(), Some("/home/ann/.cargo/bin:/usr/sbin:/usr/bin"));
        assert_eq!(env_of(&t, "RUSTUP_HOME").as_deref(), Some("/home/ann/.rustup"));
        assert_eq!(env_of(&t, "CARGO_HOME").as_deref(), Some("/home/ann/.cargo"));
        // A CARGO_HOME the caller set comes first and is kept.
        let env = Surroundings { cargo_home: Some("/opt/cargo".into()), ..env };
        let t = locate(&env, |p| p.starts_with("/opt/cargo") || ann(p)).unwrap();
        assert_eq!(t.bin, Some(PathBuf::from("/opt/cargo/bin")));
        assert_eq!(env_of(&t, "CARGO_HOME"), None);
    }

    #[test]
    fn root_is_the_last_place_and_nothing_found_says_what_to_do() {
        let env = Surroundings { home: Some("/nonexistent".into()), ..Default::default() };
        let t = locate(&env, |p| p.starts_with("/root")).unwrap();
        assert_eq!(t.bin, Some(PathBuf::from("/root/.cargo/bin")));
        let err = locate(&env, |_| false).unwrap_err();
        assert!(err.contains("sudo env PATH=\"$PATH\" oasis") && err.contains("rustup"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }
}
