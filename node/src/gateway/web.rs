//! The web app: the files of `node/web`'s build, served at every path outside `/api`.
//!
//! - Embedded in the binary (feature `web-ui`, built by `build.rs`), or read from a folder
//!   (`vivim up --web-dir DIR`, `[gateway] web_dir`) for `vite build --watch`.
//! - SPA fallback: a path that names no file answers `index.html`, so deep links survive a
//!   reload; `/api/…` never does (it answers a JSON 404). A missing file under `/assets/`
//!   is a 404 too: a stale hashed name must not come back as HTML.
//! - Hashed assets (`/assets/…`) are cached for a year, `immutable`; everything else
//!   (`index.html`, `sw.js`, the manifest) is `no-cache`, revalidated by ETag.

use std::{borrow::Cow, path::PathBuf};

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};

use super::ApiError;

/// Where the app's files come from.
#[derive(Debug, Clone)]
pub enum WebSource {
    /// The app built into this binary.
    Embedded,
    /// A folder holding a build of the app (`index.html` at its root).
    Dir(PathBuf),
}

/// Largest file served from a `--web-dir` folder.
const MAX_FILE: u64 = 64 * 1024 * 1024;

#[cfg(feature = "web-ui")]
#[derive(rust_embed::RustEmbed)]
#[folder = "$OUT_DIR/web/"]
struct Assets;

/// One file of the app: its bytes and a validator.
struct File {
    bytes: Cow<'static, [u8]>,
    etag: String,
}

impl WebSource {
    fn file(&self, path: &str) -> Option<File> {
        match self {
            WebSource::Embedded => embedded(path),
            WebSource::Dir(dir) => {
                let p = dir.join(path);
                let meta = std::fs::metadata(&p).ok()?;
                if !meta.is_file() || meta.len() > MAX_FILE {
                    return None;
                }
                let bytes = std::fs::read(&p).ok()?;
                let etag = format!("\"{}\"", &blake3::hash(&bytes).to_hex()[..32]);
                Some(File {
                    bytes: Cow::Owned(bytes),
                    etag,
                })
            }
        }
    }
}

#[cfg(feature = "web-ui")]
fn embedded(path: &str) -> Option<File> {
    let f = Assets::get(path)?;
    let hash = f.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Some(File {
        bytes: f.data,
        etag,
    })
}

#[cfg(not(feature = "web-ui"))]
fn embedded(path: &str) -> Option<File> {
    const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>VIVIM</title></head><body style=\"font-family:system-ui,sans-serif;max-width:40rem;\
margin:3rem auto\"><h1>This node has no web app</h1><p>It was built without the cargo feature \
<code>web-ui</code>. Its API is under <code>/api</code>; <code>vivim up --web-dir DIR</code> \
serves a built app from a folder.</p></body></html>\n";
    (path == "index.html").then(|| File {
        bytes: Cow::Borrowed(PAGE.as_bytes()),
        etag: "\"no-web-ui\"".into(),
    })
}

/// The media type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The policy for the app's pages: its own scripts only, its own gateway only, never framed.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The relative path a request asks for, or `None` when it tries to leave the app's folder.
fn relative(uri: &Uri) -> Option<String> {
    let raw = uri.path().trim_start_matches('/');
    let decoded = percent_decode(raw)?;
    if decoded.contains('\\')
        || decoded.contains('\0')
        || decoded
            .split('/')
            .any(|seg| seg == ".." || seg == "." || seg.starts_with('.') && seg.len() > 1)
    {
        return None;
    }
    Some(decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Answers every request outside the API's routes.
pub(super) async fn serve(
    source: &WebSource,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::not_found("no such route").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the web app's files are read with GET",
        )
        .into_response();
    }
    let Some(rel) = relative(uri) else {
        return ApiError::not_found("no such file").into_response();
    };
    let (name, file) = match (!rel.is_empty()).then(|| source.file(&rel)).flatten() {
        Some(f) => (rel, f),
        None if rel.starts_with("assets/") => {
            return ApiError::not_found("no such file").into_response();
        }
        None => match source.file("index.html") {
            Some(f) => ("index.html".to_string(), f),
            None => {
                return ApiError::not_found(
                    "this node serves no web app (its --web-dir has no index.html)",
                )
                .into_response();
            }
        },
    };
    let immutable = name.starts_with("assets/");
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == file.etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(file.bytes.into_owned()))
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if name.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_folder() {
        let rel = |s: &str| relative(&s.parse::<Uri>().unwrap());
        assert_eq!(rel("/assets/a.js").as_deref(), Some("assets/a.js"));
        assert_eq!(rel("/c/abc").as_deref(), Some("c/abc"));
        assert_eq!(rel("/").as_deref(), Some(""));
        assert_eq!(rel("/../etc/passwd"), None);
        assert_eq!(rel("/a/%2e%2e/b"), None);
        assert_eq!(rel("/.git/config"), None);
        assert_eq!(rel("/a%5cb"), None);
        assert_eq!(rel("/%ff"), None);
        assert_eq!(rel("/%2"), None);
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(
            content_type("assets/x.JS"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
