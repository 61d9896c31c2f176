//! `oasis kv`: a store made, filled, read and checked through the command
//! line; damage reported by key and never served; foreign files and
//! existing files refused and left byte for byte as they were.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use oasis_testkit::{Outcome, run};

const OASIS: &str = env!("CARGO_BIN_EXE_oasis");
const LIMIT: Duration = Duration::from_secs(120);

fn oasis<S: AsRef<OsStr>>(args: &[S]) -> Outcome {
    run(Command::new(OASIS).args(args), LIMIT)
}

/// Runs `oasis`, keeping standard output as bytes.
fn oasis_raw<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(OASIS).args(args).output().unwrap()
}

/// A directory of its own for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("oasis-kv-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Deterministic noise (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// The value whose bytes the damage test finds in the image.
const MARKED: &[u8] = b"a value marked UNIQUE-7f3a9c for the damage test, long enough to flip a bit in the middle";

/// The tree imported by the tests: key -> bytes.
fn tree() -> BTreeMap<String, Vec<u8>> {
    let mut binary: Vec<u8> = (0..=255).collect();
    binary.extend(noise(5000, 42));
    BTreeMap::from([
        ("index.html".to_string(), b"<h1>hello</h1>\n".to_vec()),
        ("nested/deep/blob.bin".to_string(), binary),
        ("nested/empty".to_string(), Vec::new()),
        ("nested/marked.txt".to_string(), MARKED.to_vec()),
        (".hidden".to_string(), b"no newline at the end".to_vec()),
    ])
}

fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (key, bytes) in files {
        let path = dir.join(key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Every file under `dir`, keyed by its relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
            let kind = entry.file_type().unwrap();
            assert!(!kind.is_symlink(), "{name} is a link");
            if kind.is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

fn read_tar(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(fs::File::open(path).unwrap());
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        assert_eq!(entry.header().entry_type(), tar::EntryType::Regular);
        let name = entry.path().unwrap().to_str().unwrap().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        assert!(out.insert(name, bytes).is_none(), "a key twice in the archive");
    }
    out
}

fn ls_lines(files: &BTreeMap<String, Vec<u8>>) -> String {
    files.iter().map(|(key, bytes)| format!("{}\t{key}\n", bytes.len())).collect()
}

/// A formatted store holding [`tree`], in `scratch`.
fn filled_store(scratch: &Scratch) -> PathBuf {
    let store = scratch.path("store.img");
    let input = scratch.path("input");
    write_tree(&input, &tree());
    oasis(&[OsStr::new("kv"), "format".as_ref(), store.as_os_str(), "--size".as_ref(), "2M".as_ref()])
        .expect_status(0, "format")
        .expect_stdout("formatted", "format");
    assert_eq!(fs::metadata(&store).unwrap().len(), 2 << 20);
    oasis(&[OsStr::new("kv"), "import".as_ref(), store.as_os_str(), input.as_os_str()])
        .expect_status(0, "import")
        .expect_stdout("imported 5 files", "import");
    store
}

fn kv<S: AsRef<OsStr>>(command: &str, store: &Path, rest: &[S]) -> Outcome {
    let mut args = vec![OsStr::new("kv"), OsStr::new(command), store.as_os_str()];
    args.extend(rest.iter().map(AsRef::as_ref));
    oasis(&args)
}

fn get(store: &Path, key: &str) -> Output {
    oasis_raw(&[OsStr::new("kv"), "get".as_ref(), store.as_os_str(), key.as_ref()])
}

#[test]
fn import_ls_get_export_and_check_round_trip() {
    let scratch = Scratch::new("round-trip");
    let store = filled_store(&scratch);
    let files = tree();

    let out = kv::<&str>("ls", &store, &[]);
    out.expect_status(0, "ls");
    assert_eq!(out.stdout, ls_lines(&files));
    let out = kv("ls", &store, &["nested"]);
    out.expect_status(0, "ls nested");
    let nested: BTreeMap<_, _> =
        files.iter().filter(|(k, _)| k.starts_with("nested/")).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(out.stdout, ls_lines(&nested));
    let out = kv("ls", &store, &["--null"]);
    assert_eq!(out.stdout, ls_lines(&files).replace('\n', "\0"));
    kv("ls", &store, &["nope"]).expect_status(1, "ls of a missing prefix").expect_stderr("\"nope\"", "ls nope");

    for (key, bytes) in &files {
        let out = get(&store, key);
        assert!(out.status.success(), "get {key}: {out:?}");
        assert_eq!(&out.stdout, bytes, "get {key}");
    }
    let out = get(&store, "nested/missing");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no value or dictionary at \"nested/missing\""), "{out:?}");
    let out = get(&store, "nested");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a dictionary"), "{out:?}");

    let dir = scratch.path("out");
    kv("export", &store, &[&dir])
        .expect_status(0, "export to a directory")
        .expect_stdout("exported 5 values", "export");
    assert_eq!(read_tree(&dir), files);
    let archive = scratch.path("out.tar");
    kv("export", &store, &[&archive]).expect_status(0, "export to tar");
    assert_eq!(read_tar(&archive), files);
    let listed = run(Command::new("tar").arg("-tf").arg(&archive), LIMIT);
    if listed.status == Some(0) {
        let mut names: Vec<&str> = listed.stdout.lines().collect();
        names.sort_unstable();
        assert_eq!(names, files.keys().map(String::as_str).collect::<Vec<_>>());
    }

    let out = kv::<&str>("check", &store, &[]);
    out.expect_status(0, "check").expect_stdout("5 keys", "check").expect_stdout("clean", "check");
}

#[test]
fn export_refuses_existing_files_unless_forced_and_never_leaves_dest() {
    let scratch = Scratch::new("export");
    let store = filled_store(&scratch);
    let dir = scratch.path("out");
    fs::create_dir_all(dir.join("nested")).unwrap();
    fs::write(dir.join("nested/empty"), b"mine").unwrap();
    fs::write(dir.join("unrelated"), b"also mine").unwrap();
    // Refused as a whole: nothing written, not even the keys before it.
    kv("export", &store, &[&dir])
        .expect_status(1, "export over a file")
        .expect_stderr("nested/empty exists (--force overwrites files)", "export");
    assert_eq!(fs::read(dir.join("nested/empty")).unwrap(), b"mine");
    assert!(!dir.join("index.html").exists() && !dir.join(".hidden").exists());
    kv("export", &store, &[dir.as_os_str(), "--force".as_ref()]).expect_status(0, "export --force");
    let mut expected = tree();
    expected.insert("unrelated".into(), b"also mine".to_vec());
    assert_eq!(read_tree(&dir), expected);

    // An existing archive is replaced only with --force.
    let archive = scratch.path("a.tar");
    fs::write(&archive, b"not yet an archive").unwrap();
    kv("export", &store, &[&archive]).expect_status(1, "export over an archive").expect_stderr("--force", "tar");
    assert_eq!(fs::read(&archive).unwrap(), b"not yet an archive");
    kv("export", &store, &[archive.as_os_str(), "--force".as_ref()]).expect_status(0, "export tar --force");
    assert_eq!(read_tar(&archive), tree());

    // Links in DEST lead outside it: refused, even with --force, and
    // nothing is written where they point.
    let outside = scratch.path("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"keep").unwrap();
    let linked = scratch.path("linked");
    fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(&outside, linked.join("nested")).unwrap();
    for force in [false, true] {
        let mut args = vec![linked.as_os_str()];
        if force {
            args.push("--force".as_ref());
        }
        kv("export", &store, &args).expect_status(1, "export through a link").expect_stderr("symbolic link", "link");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1, "wrote outside DEST");
    }
    let file_link = scratch.path("file-link");
    fs::create_dir_all(&file_link).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), file_link.join("index.html")).unwrap();
    kv("export", &store, &[file_link.as_os_str(), "--force".as_ref()])
        .expect_status(1, "export onto a link")
        .expect_stderr("symbolic link", "file link");
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep");

    // Exporting over the store itself is refused.
    let tar_store = scratch.path("store.tar");
    fs::copy(&store, &tar_store).unwrap();
    let before = fs::read(&tar_store).unwrap();
    kv("export", &tar_store, &[tar_store.as_os_str(), "--force".as_ref()])
        .expect_status(1, "export onto the store")
        .expect_stderr("the store itself", "onto the store");
    assert_eq!(fs::read(&tar_store).unwrap(), before);
}

#[test]
fn read_only_commands_never_write() {
    let scratch = Scratch::new("read-only");
    let store = filled_store(&scratch);
    let before = fs::read(&store).unwrap();
    kv::<&str>("ls", &store, &[]).expect_status(0, "ls");
    assert!(get(&store, "index.html").status.success());
    kv::<&str>("check", &store, &[]).expect_status(0, "check");
    kv("export", &store, &[scratch.path("x.tar")]).expect_status(0, "export");
    kv("export", &store, &[scratch.path("x")]).expect_status(0, "export");
    // A write would at least have bumped the superblock's epoch.
    assert!(fs::read(&store).unwrap() == before, "a read-only command changed the store");
    // An import opens for writing, so it does change it.
    kv("import", &store, &[scratch.path("input")]).expect_status(0, "import again");
    assert!(fs::read(&store).unwrap() != before);
}

#[test]
fn damaged_values_are_reported_by_key_and_never_served() {
    let scratch = Scratch::new("damage");
    let store = filled_store(&scratch);
    let mut image = fs::read(&store).unwrap();
    let at = image.windows(MARKED.len()).position(|w| w == MARKED).expect("the value is in the image");
    assert!(image[at + 1..].windows(MARKED.len()).all(|w| w != MARKED), "the value is in the image twice");
    image[at + MARKED.len() / 2] ^= 0x10;
    fs::write(&store, &image).unwrap();

    let out = kv::<&str>("check", &store, &[]);
    out.expect_status(1, "check of a damaged store")
        .expect_stdout("value fails its checksum (key \"nested/marked.txt\")", "check")
        .expect_stdout("DAMAGED", "check")
        .expect_stderr("is damaged: 1 problem", "check");
    assert!(!out.stdout.contains("clean"), "{out:#?}");
    let out = get(&store, "nested/marked.txt");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "served damaged bytes: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt") && stderr.contains("nested/marked.txt"), "{stderr}");
    // The rest is still served.
    assert_eq!(get(&store, "index.html").stdout, tree()["index.html"]);
    // An export stops at the damaged value rather than write it out.
    let archive = scratch.path("damaged.tar");
    kv("export", &store, &[&archive]).expect_status(1, "export of a damaged value").expect_stderr("corrupt", "export");
    assert!(!archive.exists(), "a partial archive was left");
    // A forced export that fails keeps the archive it would have replaced.
    let kept = scratch.path("kept.tar");
    fs::write(&kept, b"the old archive").unwrap();
    kv("export", &store, &[kept.as_os_str(), "--force".as_ref()]).expect_status(1, "forced export of damage");
    assert_eq!(fs::read(&kept).unwrap(), b"the old archive");
    let names: Vec<_> = fs::read_dir(&scratch.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "a temporary file was left: {names:?}");
    // Reading never repaired anything.
    assert_eq!(fs::read(&store).unwrap(), image);
}

#[test]
fn foreign_files_are_refused_and_left_unchanged() {
    let scratch = Scratch::new("foreign");
    let mut ext4 = vec![0; 1 << 20];
    ext4[1024..1028].copy_from_slice(&256u32.to_le_bytes());
    ext4[1028..1032].copy_from_slice(&1024u32.to_le_bytes());
    ext4[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
    ext4[1024 + 0x68..1024 + 0x78].copy_from_slice(b"uuid-of-the-disk");
    let input = scratch.path("input");
    write_tree(&input, &tree());
    for (name, bytes) in [("random.img", noise(256 * 1024, 7)), ("ext4.img", ext4), ("tiny.img", noise(100, 9))] {
        let file = scratch.path(name);
        fs::write(&file, &bytes).unwrap();
        let size = bytes.len().to_string();
        for args in [vec![], vec!["--force"], vec!["--force", "--size", &size]] {
            kv("format", &file, &args)
                .expect_status(1, &format!("format {name} {args:?}"))
                .expect_stderr("not an Oasis key-value store: refusing to format over it", name);
        }
        let dest = scratch.path("dest");
        let tar = scratch.path("dest.tar");
        for (command, rest) in [
            ("ls", vec![]),
            ("check", vec![]),
            ("get", vec![OsStr::new("index.html")]),
            ("export", vec![dest.as_os_str()]),
            ("export", vec![tar.as_os_str()]),
            ("import", vec![input.as_os_str()]),
        ] {
            let out = kv(command, &file, &rest);
            out.expect_status(1, &format!("{command} {name}"));
            let line = format!("{} is not an Oasis key-value store", file.display());
            out.expect_stderr(&line, &format!("{command} {name}"));
            assert!(out.stdout.is_empty(), "{out:#?}");
        }
        assert!(fs::read(&file).unwrap() == bytes, "{name} was changed");
        assert!(!dest.exists() && !tar.exists());
    }
}

#[test]
fn format_writes_only_over_nothing_zeros_or_a_forced_store() {
    let scratch = Scratch::new("format");
    // A new file needs --size; a size that cannot make a store leaves none.
    let new = scratch.path("new.img");
    kv::<&str>("format", &new, &[]).expect_status(1, "no size").expect_stderr("give --size", "no size");
    kv("format", &new, &["--size", "1000"]).expect_status(1, "odd size").expect_stderr("multiple of 512", "odd");
    kv("format", &new, &["--size", "4K"]).expect_status(1, "tiny").expect_stderr("too small", "tiny");
    kv("format", &new, &["--size", "1M", "--max-value", "900K"]).expect_status(1, "value > log/8");
    assert!(!new.exists(), "a failed format left a file behind");
    let out = kv("format", &new, &["--size", "1M", "--max-key", "64", "--max-value", "4K"]);
    out.expect_status(0, "format").expect_stdout("keys up to 64 bytes, values up to 4096 bytes", "limits");
    kv::<&str>("check", &new, &[]).expect_status(0, "check").expect_stdout("0 keys", "check");
    // The limits hold on import.
    let big = scratch.path("big");
    write_tree(&big, &BTreeMap::from([("large".to_string(), vec![1; 5000])]));
    kv("import", &new, &[&big]).expect_status(1, "too large").expect_stderr("value limit of 4096 bytes", "limit");
    assert_eq!(kv::<&str>("ls", &new, &[]).stdout, "", "a refused import wrote something");

    // A zero-filled image (what `oasis run` makes) is formatted in place,
    // at its own size.
    let zeros = scratch.path("zeros.img");
    fs::File::create(&zeros).unwrap().set_len(3 << 20).unwrap();
    kv("format", &zeros, &["--size", "2M"]).expect_status(1, "resize").expect_stderr("not --size", "resize");
    kv::<&str>("format", &zeros, &[]).expect_status(0, "format zeros");
    assert_eq!(fs::metadata(&zeros).unwrap().len(), 3 << 20);
    let empty = scratch.path("empty.img");
    fs::write(&empty, b"").unwrap();
    kv("format", &empty, &["--size", "64K"]).expect_status(0, "format an empty file");
    assert_eq!(fs::metadata(&empty).unwrap().len(), 64 << 10);

    // An existing store only with --force, which empties it.
    let store = filled_store(&scratch);
    let before = fs::read(&store).unwrap();
    kv::<&str>("format", &store, &[])
        .expect_status(1, "format a store")
        .expect_stderr("an Oasis key-value store with 5 keys: --force", "store");
    assert!(fs::read(&store).unwrap() == before);
    kv("format", &store, &["--force"]).expect_status(0, "format --force");
    assert_eq!(kv::<&str>("ls", &store, &[]).stdout, "");
    kv::<&str>("check", &store, &[]).expect_status(0, "check").expect_stdout("0 keys", "check");
}

#[test]
fn bad_sizes_name_their_flag() {
    let scratch = Scratch::new("sizes");
    let file = scratch.path("s.img");
    for (flag, value) in [("--size", "lots"), ("--size", "12Q"), ("--max-value", "1X"), ("--max-record", "")] {
        let out = kv("format", &file, &["--size", "1M", flag, value]);
        out.expect_status(2, &format!("{flag} {value}")).expect_stderr(&format!("'{flag} <"), flag);
    }
    kv("format", &file, &["--size", "1M", "--max-value", "5G"])
        .expect_status(1, "--max-value too large")
        .expect_stderr("--max-value", "5G");
    assert!(!file.exists());
}

#[test]
fn import_refuses_links_out_of_the_directory() {
    let scratch = Scratch::new("import-links");
    let store = scratch.path("store.img");
    kv("format", &store, &["--size", "1M"]).expect_status(0, "format");
    let input = scratch.path("input");
    write_tree(&input, &tree());
    fs::write(scratch.path("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(scratch.path("secret"), input.join("nested/secret")).unwrap();
    kv("import", &store, &[&input]).expect_status(1, "import").expect_stderr("points outside", "link");
    assert_eq!(kv::<&str>("ls", &store, &[]).stdout, "", "a refused import wrote something");
    // A link inside the directory is followed.
    fs::remove_file(input.join("nested/secret")).unwrap();
    std::os::unix::fs::symlink(input.join("index.html"), input.join("nested/alias")).unwrap();
    kv("import", &store, &[&input]).expect_status(0, "import").expect_stdout("imported 6 files", "alias");
    assert_eq!(get(&store, "nested/alias").stdout, tree()["index.html"]);
    // Nor does a store import itself.
    let inside = input.join("store.img");
    fs::rename(&store, &inside).unwrap();
    kv("import", &inside, &[&input]).expect_status(1, "import into itself").expect_stderr("the store itself", "self");
}

#[test]
fn check_and_ls_of_a_store_with_both_superblocks_damaged_fail_by_name() {
    let scratch = Scratch::new("superblocks");
    let store = filled_store(&scratch);
    let mut image = fs::read(&store).unwrap();
    image[40] ^= 1;
    image[512 + 40] ^= 1;
    fs::write(&store, &image).unwrap();
    for command in ["check", "ls"] {
        let out = kv::<&str>(command, &store, &[]);
        out.expect_status(1, command).expect_stderr("superblock checksum mismatch", command);
        out.expect_stderr(&store.display().to_string(), command);
    }
    kv::<&str>("format", &store, &[]).expect_status(1, "format").expect_stderr("--force", "format");
    assert_eq!(fs::read(&store).unwrap(), image);
    kv("format", &store, &["--force"]).expect_status(0, "format --force over a damaged store");
}
