//! Builds the site and embeds it as the read-only store `htdocs`.
//!
//! By default the site is the project's own documentation: README.md as
//! the home page and docs/*.md as /docs/NAME.html, rendered with
//! pulldown-cmark into one template with site/style.css, links between
//! them rewritten to the rendered pages. `oasis build --kv htdocs=DIR`
//! (which sets `OASIS_KV_HTDOCS`) embeds DIR instead. Either way every
//! text file gets precompressed brotli and gzip variants.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oasis_kv_build::Precompress;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

fn main() {
    if let Err(e) = build() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn build() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let modified = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    });
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rustc-env=WWW_BUILD_TIME={modified}");
    let var = oasis_kv_build::env_var("htdocs");
    if std::env::var_os(&var).is_some_and(|dir| !dir.is_empty()) {
        oasis_kv_build::embed_with("htdocs", "htdocs.rs", Precompress::ALL)?;
        return Ok(());
    }
    println!("cargo:rerun-if-env-changed={var}");
    let package = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = package.join("../..");
    let site = out_dir.join("site");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(site.join("docs"))?;
    render_site(&root, &package.join("site"), &site)?;
    let embedded = oasis_kv_build::embed_dir_with(&site, &out_dir.join("htdocs.rs"), Precompress::ALL)?;
    for dir in [root.join("docs"), package.join("site")] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    println!("cargo:rerun-if-changed={}", root.join("README.md").display());
    for path in std::fs::read_dir(root.join("docs"))?.flatten().map(|e| e.path()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed={}", package.join("site/style.css").display());
    let _ = embedded;
    Ok(())
}

/// A page to render: its source, where it lands, its title.
struct Page {
    source: PathBuf,
    /// The source relative to the repository (`README.md`, `docs/net.md`).
    repo_path: String,
    /// The URL path it is served at.
    url: String,
    /// The file written under the site.
    output: String,
    markdown: String,
    title: String,
}

fn title_of(markdown: &str, fallback: &str) -> String {
    let mut in_heading = false;
    let mut title = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) if title.is_empty() => in_heading = true,
            Event::End(TagEnd::Heading(_)) if in_heading => break,
            Event::Text(text) | Event::Code(text) if in_heading => title.push_str(&text),
            _ => {}
        }
    }
    if title.is_empty() { fallback.to_string() } else { title }
}

fn render_site(root: &Path, assets: &Path, site: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut pages = Vec::new();
    let readme = root.join("README.md");
    let markdown = std::fs::read_to_string(&readme)?;
    pages.push(Page {
        title: title_of(&markdown, "Oasis"),
        source: readme,
        repo_path: "README.md".into(),
        url: "/".into(),
        output: "index.html".into(),
        markdown,
    });
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for source in docs {
        let stem = source.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let markdown = std::fs::read_to_string(&source)?;
        pages.push(Page {
            title: title_of(&markdown, &stem),
            source,
            repo_path: format!("docs/{stem}.md"),
            url: format!("/docs/{stem}.html"),
            output: format!("docs/{stem}.html"),
            markdown,
        });
    }
    let nav: String = pages.iter().skip(1).fold(String::from("<a href=\"/docs/\">Docs</a>"), |mut nav, page| {
        let _ = write!(nav, "<a href=\"{}\">{}</a>", page.url, escape(&short_title(&page.title)));
        nav
    });
    let mut listing = String::from("<ul class=\"pages\">\n");
    for page in pages.iter().skip(1) {
        let _ = writeln!(listing, "<li><a href=\"{}\">{}</a></li>", page.url, escape(&page.title));
    }
    listing.push_str("</ul>\n");
    let links: Vec<(String, String)> = pages.iter().map(|p| (p.repo_path.clone(), p.url.clone())).collect();
    for page in &pages {
        let mut body = render_markdown(&page.markdown, &page.repo_path, &links);
        if page.url == "/" {
            body.push_str("<h2 id=\"documentation\">Documentation</h2>\n");
            body.push_str(&listing);
        }
        let html = template(&page.title, &nav, &body);
        std::fs::write(site.join(&page.output), html)?;
        let _ = &page.source;
    }
    let docs_index = format!("<h1>Documentation</h1>\n{listing}");
    std::fs::write(site.join("docs/index.html"), template("Documentation", &nav, &docs_index))?;
    let not_found = "<h1>Not found</h1>\n<p>Nothing lives at this address. Try the <a href=\"/\">home page</a> \
                     or the <a href=\"/docs/\">documentation</a>.</p>\n";
    std::fs::write(site.join("404.html"), template("Not found", &nav, not_found))?;
    std::fs::copy(assets.join("style.css"), site.join("style.css"))?;
    Ok(())
}

fn short_title(title: &str) -> String {
    let short = title.split(['—', ':', '(']).next().unwrap_or(title).trim();
    short.strip_prefix("Oasis").map(str::trim).filter(|s| !s.is_empty()).unwrap_or(short).to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn template(title: &str, nav: &str, body: &str) -> String {
    let title = if title == "Oasis" { String::from("Oasis") } else { format!("{title} — Oasis") };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n\
         <header class=\"site\"><a class=\"brand\" href=\"/\">Oasis</a><nav>{nav}</nav></header>\n\
         <main>\n{body}</main>\n<footer>Served by <code>www</code>, an Oasis unikernel.</footer>\n</body>\n</html>\n",
        escape(&title)
    )
}

/// Resolves `target` (a link in the file at `from`, repository-relative)
/// to a repository path, or `None` if it leaves the repository or is
/// not a relative path.
fn repo_path(from: &str, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with('/') || target.starts_with('#') || target.starts_with("mailto:") {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// A link target rewritten to the rendered page it names, if any.
fn rewrite(from: &str, dest: &str, links: &[(String, String)]) -> Option<String> {
    let (path, fragment) = match dest.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (dest, None),
    };
    let repo = repo_path(from, path)?;
    let (_, url) = links.iter().find(|(source, _)| *source == repo)?;
    Some(match fragment {
        Some(fragment) => format!("{url}#{fragment}"),
        None => url.clone(),
    })
}

fn render_markdown(markdown: &str, from: &str, links: &[(String, String)]) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let dest_url = rewrite(from, &dest_url, links).map_or(dest_url, CowStr::from);
            Event::Start(Tag::Link { link_type, dest_url, title, id })
        }
        // `docs/net.md` written as code names a page: make it a link.
        Event::Code(code) => match links.iter().find(|(source, _)| code.as_ref() == source) {
            Some((_, url)) => Event::Html(format!("<a href=\"{url}\"><code>{}</code></a>", escape(&code)).into()),
            None => Event::Code(code),
        },
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}
