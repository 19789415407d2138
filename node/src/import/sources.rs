//! Where exports come from: files, zip archives, directories, URLs.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::Ctx;
use super::dispatch;
use super::{DETECT_PREFIX_BYTES, Format, ImportError, Item, Limits, detect};

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Parses an export at `path`: a `.json`/`.html`/`.md` file, a zip archive (recognized by its
/// magic bytes; ChatGPT and Claude exports hold `conversations.json` or split
/// `conversations-NNN.json`), or a directory holding such files. Returns the format used (for
/// several files, the first one's).
pub fn parse_path(
    path: &Path,
    format: Format,
    limits: &Limits,
    sink: &mut dyn FnMut(Item) -> Result<(), ImportError>,
) -> Result<Format, ImportError> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return parse_dir(path, format, limits, sink);
    }
    let mut ctx = Ctx::new(limits, None, 0);
    parse_file(path, meta.len(), format, limits, &mut ctx, sink)
}

fn check_file_size(path: &Path, len: u64, limits: &Limits) -> Result<(), ImportError> {
    if len > limits.max_file_bytes {
        return Err(ImportError::TooLarge {
            what: path.display().to_string(),
            size: len,
            max: limits.max_file_bytes,
        });
    }
    Ok(())
}

fn read_prefix(path: &Path, n: usize) -> Result<Vec<u8>, ImportError> {
    let mut buf = Vec::new();
    File::open(path)?.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn parse_file(
    path: &Path,
    len: u64,
    format: Format,
    limits: &Limits,
    ctx: &mut Ctx<'_>,
    sink: &mut dyn FnMut(Item) -> Result<(), ImportError>,
) -> Result<Format, ImportError> {
    check_file_size(path, len, limits)?;
    if read_prefix(path, ZIP_MAGIC.len())? == ZIP_MAGIC {
        return parse_zip(path, format, limits, ctx.index_base, sink).map(|(f, _)| f);
    }
    let what = path.display().to_string();
    dispatch::parse_stream(
        File::open(path)?,
        format,
        limits.max_file_bytes,
        &what,
        ctx,
        sink,
    )
}

/// Whether a file name is `conversations.json` or `conversations-NNN.json`.
fn is_conversations_name(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let Some(stem) = base.strip_suffix(".json") else {
        return false;
    };
    stem == "conversations"
        || stem
            .strip_prefix("conversations-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_zip(
    path: &Path,
    format: Format,
    limits: &Limits,
    index_base: usize,
    sink: &mut dyn FnMut(Item) -> Result<(), ImportError>,
) -> Result<(Format, usize), ImportError> {
    let zip_err = |m: String| ImportError::Malformed {
        format: "zip",
        location: path.display().to_string(),
        message: m,
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(File::open(path)?))
        .map_err(|e| zip_err(e.to_string()))?;
    if archive.len() > limits.max_zip_members {
        return Err(ImportError::TooLarge {
            what: format!("the member list of {}", path.display()),
            size: archive.len() as u64,
            max: limits.max_zip_members as u64,
        });
    }
    // Bytes decompressed so far, over all members (declared sizes can lie; this counts what
    // was read).
    let mut unzipped = 0u64;
    let over_total = |size: u64| ImportError::TooLarge {
        what: format!("the content decompressed from {}", path.display()),
        size,
        max: limits.max_zip_bytes,
    };
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| zip_err(format!("member {i}: {e}")))?;
        if f.is_file() {
            names.push((f.name().to_string(), i));
        }
    }
    names.sort();
    let preferred: Vec<(String, usize)> = names
        .iter()
        .filter(|(n, _)| is_conversations_name(n))
        .cloned()
        .collect();
    let fallback = preferred.is_empty();
    let chosen = if fallback { names } else { preferred };

    let mut used: Option<Format> = None;
    let mut base = index_base;
    for (name, i) in chosen {
        let what = format!("zip member {name}");
        let mut member = archive
            .by_index(i)
            .map_err(|e| zip_err(format!("{name}: {e}")))?;
        if member.size() > limits.max_member_bytes {
            return Err(ImportError::TooLarge {
                what,
                size: member.size(),
                max: limits.max_member_bytes,
            });
        }
        let left = limits.max_zip_bytes.saturating_sub(unzipped);
        if member.size() > left {
            return Err(over_total(unzipped.saturating_add(member.size())));
        }
        let mut member_format = format;
        if fallback {
            // Not a known layout: take the members whose content we recognize.
            let mut prefix = Vec::new();
            (&mut member)
                .take((DETECT_PREFIX_BYTES as u64).min(left.saturating_add(1)))
                .read_to_end(&mut prefix)?;
            unzipped = unzipped.saturating_add(prefix.len() as u64);
            if unzipped > limits.max_zip_bytes {
                return Err(over_total(unzipped));
            }
            let Some(f) = detect(&prefix) else { continue };
            if member_format == Format::Auto {
                member_format = f;
            }
            drop(member);
            member = archive
                .by_index(i)
                .map_err(|e| zip_err(format!("{name}: {e}")))?;
        }
        let left = limits.max_zip_bytes.saturating_sub(unzipped);
        let cap = limits.max_member_bytes.min(left);
        let mut ctx = Ctx::new(limits, Some(name.clone()), base);
        let mut counted = Counted {
            inner: &mut member,
            read: 0,
        };
        let parsed =
            dispatch::parse_stream(&mut counted, member_format, cap, &what, &mut ctx, sink);
        unzipped = unzipped.saturating_add(counted.read);
        let f = match parsed {
            Err(ImportError::TooLarge { .. }) if cap < limits.max_member_bytes => {
                return Err(over_total(unzipped));
            }
            other => other?,
        };
        base += ctx.seen;
        used.get_or_insert(f);
    }
    match used {
        Some(f) => Ok((f, base - index_base)),
        None => Err(ImportError::UnknownFormat(format!(
            " of {} (the zip holds no conversations.json or other recognizable export)",
            path.display()
        ))),
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        Ok(n)
    }
}

fn parse_dir(
    dir: &Path,
    format: Format,
    limits: &Limits,
    sink: &mut dyn FnMut(Item) -> Result<(), ImportError>,
) -> Result<Format, ImportError> {
    let mut files: Vec<(PathBuf, u64)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let name = entry.file_name();
        if meta.is_file() && !name.to_string_lossy().starts_with('.') {
            files.push((entry.path(), meta.len()));
        }
    }
    files.sort();
    let preferred: Vec<(PathBuf, u64)> = files
        .iter()
        .filter(|(p, _)| {
            p.file_name()
                .is_some_and(|n| is_conversations_name(&n.to_string_lossy()))
        })
        .cloned()
        .collect();
    let chosen = if preferred.is_empty() {
        files
    } else {
        preferred
    };
    let mut used: Option<Format> = None;
    let mut base = 0usize;
    for (path, len) in chosen {
        check_file_size(&path, len, limits)?;
        let prefix = read_prefix(&path, DETECT_PREFIX_BYTES)?;
        let is_zip = prefix.starts_with(ZIP_MAGIC);
        if !is_zip && detect(&prefix).is_none() {
            continue; // not an export (user.json, a README, …)
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let f = if is_zip {
            let (f, n) = parse_zip(&path, format, limits, base, sink)?;
            base += n;
            f
        } else {
            let mut ctx = Ctx::new(limits, name, base);
            let what = path.display().to_string();
            let f = dispatch::parse_stream(
                File::open(&path)?,
                format,
                limits.max_file_bytes,
                &what,
                &mut ctx,
                sink,
            )?;
            base += ctx.seen;
            f
        };
        used.get_or_insert(f);
    }
    used.ok_or_else(|| {
        ImportError::UnknownFormat(format!(
            " of {} (the directory holds no recognizable export)",
            dir.display()
        ))
    })
}

/// Downloads `url` (http or https), stopping with [`ImportError::TooLarge`] as soon as the body
/// passes `max_bytes`. Used for ChatGPT share links.
pub async fn fetch_url(url: &str, max_bytes: u64) -> Result<Vec<u8>, ImportError> {
    let fail = |message: String| ImportError::Fetch {
        url: url.to_string(),
        message,
    };
    let invalid = |message: String| ImportError::InvalidUrl {
        url: url.chars().take(200).collect(),
        message,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(format!(
            "unsupported scheme {:?}: give an http or https address",
            parsed.scheme()
        )));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("vivim/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(format!("building the HTTP client: {e}")))?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("the server answered HTTP {status}")));
    }
    let too_large = |size: u64| ImportError::TooLarge {
        what: format!("the response from {url}"),
        size,
        max: max_bytes,
    };
    if let Some(len) = resp.content_length()
        && len > max_bytes
    {
        return Err(too_large(len));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(error_chain(&e)))? {
        let size = body.len() as u64 + chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large(size));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
