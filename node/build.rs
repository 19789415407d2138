//! Builds the web app (`node/web`) into `$OUT_DIR/web` for the `web-ui` feature, where
//! rust-embed picks it up.
//!
//! - `npm ci` runs only when `node_modules` is older than `package-lock.json` (or missing);
//!   then `npm run build` with `VIVIM_WEB_OUT=$OUT_DIR/web`.
//! - Without npm (or Node.js older than 20.19) the node still builds: it serves a page that
//!   says what to install, and cargo prints a warning.
//! - `VIVIM_WEB=require` (CI) turns that into an error; `VIVIM_WEB=skip` skips the app
//!   entirely (fast rust-analyzer and check builds).

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

fn main() {
    println!("cargo:rerun-if-env-changed=VIVIM_WEB");
    println!("cargo:rerun-if-env-changed=VIVIM_WASM_PKG");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_WEB_UI").is_none() {
        return;
    }
    let web = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("web");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("web");
    watch(&web);
    let mode = env::var("VIVIM_WEB").unwrap_or_default();
    let result = match mode.as_str() {
        "skip" => Err("VIVIM_WEB=skip was set when this binary was built".to_string()),
        _ => build(&web, &out).map(|()| wasm(&out)),
    };
    if let Err(why) = result {
        if mode == "require" {
            panic!("the web app could not be built (VIVIM_WEB=require): {why}");
        }
        if mode != "skip" {
            println!(
                "cargo:warning=the web app was not built ({why}); the node serves a page saying what to install"
            );
        }
        placeholder(&out, &why);
    }
}

/// Asks cargo to rerun this script when a source of the app changes (but not for what the
/// build itself writes: `node_modules`, generated `*.gen.ts`).
fn watch(web: &Path) {
    for f in [
        "package.json",
        "package-lock.json",
        "index.html",
        "vite.config.ts",
        "tsconfig.json",
        "openapi.json",
        ".npmrc",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(f).display());
    }
    for dir in ["src", "public"] {
        let mut stack = vec![web.join(dir)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p.to_string_lossy().contains(".gen.") {
                    println!("cargo:rerun-if-changed={}", p.display());
                }
            }
        }
    }
}

fn build(web: &Path, out: &Path) -> Result<(), String> {
    if !web.join("package.json").is_file() {
        return Err(format!("{} has no package.json", web.display()));
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|_| "Node.js (20.19 or newer) and npm are not installed".to_string())?;
    let version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    if !node_is_recent(&version) {
        return Err(format!(
            "Node.js {version} is too old: the web app needs 20.19 or newer"
        ));
    }
    if Command::new(npm).arg("--version").output().is_err() {
        return Err("npm is not installed (it comes with Node.js 20.19 or newer)".into());
    }
    if stale(web) {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(web),
            "npm ci",
        )?;
    }
    run(
        Command::new(npm)
            .args(["run", "build", "--silent"])
            .env("VIVIM_WEB_OUT", out)
            .current_dir(web),
        "npm run build",
    )?;
    if !out.join("index.html").is_file() {
        return Err(format!(
            "npm run build wrote no {}",
            out.join("index.html").display()
        ));
    }
    Ok(())
}

/// Copies the wasm package's browser build (`VIVIM_WASM_PKG`, from bindings/wasm/build.sh)
/// into the app as `/wasm/…`, where the app finds its signature verifier. Without it the app
/// says that messages are not verified in the browser.
fn wasm(out: &Path) {
    let Some(pkg) = env::var_os("VIVIM_WASM_PKG").map(PathBuf::from) else {
        return;
    };
    let files = ["vivim_wasm.js", "vivim_wasm_bg.wasm"];
    for f in files {
        println!("cargo:rerun-if-changed={}", pkg.join(f).display());
    }
    if !files.iter().all(|f| pkg.join(f).is_file()) {
        println!(
            "cargo:warning=VIVIM_WASM_PKG={} has no vivim_wasm.js and vivim_wasm_bg.wasm (run bindings/wasm/build.sh); the app will not verify signatures",
            pkg.display()
        );
        return;
    }
    let dest = out.join("wasm");
    fs::create_dir_all(&dest).expect("OUT_DIR is writable");
    for f in files {
        fs::copy(pkg.join(f), dest.join(f)).expect("the wasm package is readable");
    }
}

/// `node_modules` is missing or older than `package-lock.json`.
fn stale(web: &Path) -> bool {
    let mtime = |p: PathBuf| fs::metadata(p).and_then(|m| m.modified()).ok();
    let lock = mtime(web.join("package-lock.json")).unwrap_or(SystemTime::UNIX_EPOCH);
    match mtime(web.join("node_modules").join(".package-lock.json")) {
        Some(installed) => installed < lock,
        None => true,
    }
}

fn node_is_recent(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (20, 19)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let output = cmd
        .output()
        .map_err(|e| format!("{what} could not start: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    ))
}

/// The page a node without its web app serves at every non-API path.
fn placeholder(out: &Path, why: &str) {
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out).expect("OUT_DIR is writable");
    let why = why
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>VIVIM — web app not built</title></head>\n<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5\">\n\
<h1>The web app was not built into this node</h1>\n\
<p>The node works (its API is under <code>/api</code>, the CLI is <code>vivim</code>), but this \
binary was built without its web app:</p>\n<pre style=\"white-space:pre-wrap\">{why}</pre>\n\
<p>Install Node.js 20.19 or newer with npm (e.g. <code>apt install nodejs npm</code>) and \
build again: <code>cargo build --release -p vivim-node</code>. Or serve a built app folder \
with <code>vivim up --web-dir node/web/dist</code>.</p>\n</body></html>\n"
    );
    fs::write(out.join("index.html"), page).expect("OUT_DIR is writable");
}
