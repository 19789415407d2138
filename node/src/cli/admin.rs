//! `vivim backup`, `restore`, `check`, `rebuild`, `compact`: caring for the node's data.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde_json::json;
use vivim_node::admin::{compact::compact, restore};

use super::{
    connect::{Global, with_client},
    output::out,
};

/// `vivim backup <file>`.
pub async fn backup(g: &Global, file: PathBuf, keys: bool, json: bool) -> Result<()> {
    if file.exists() {
        bail!("{} exists: choose a new file name", file.display());
    }
    let pass = if keys {
        let Some(p) = g.passphrase()? else {
            bail!("--keys seals the identity with a passphrase: give it with --passphrase-env VAR");
        };
        Some(String::from_utf8(p).map_err(|_| anyhow::anyhow!("the passphrase is not UTF-8"))?)
    } else {
        None
    };
    let s = with_client(g, async |c| c.backup(&file, pass.as_deref()).await).await?;
    out(&serde_json::to_value(&s)?, json, |_| {
        let m = &s.manifest;
        println!(
            "backup written to {} ({:.1} MB in {:.1} s)",
            file.display(),
            s.bytes as f64 / 1e6,
            s.took_ms as f64 / 1e3
        );
        println!(
            "  {} conversations, {} messages, {} documents, {} shares, {} memories",
            m.conversations, m.acus, m.documents, m.shares, m.memories
        );
        if m.keys {
            println!(
                "  the identity {} is inside, sealed with your passphrase",
                m.did
            );
        } else {
            println!(
                "  no keys inside: restoring needs the identity {} (your mnemonic), or back up with --keys",
                m.did
            );
        }
    })
}

/// `vivim restore <file>`: into `--data-dir` (which must be new, unless `--merge`).
pub async fn restore(g: &Global, file: PathBuf, merge: bool, json: bool) -> Result<()> {
    let dir = g.dir()?;
    let pass = g
        .passphrase()?
        .map(String::from_utf8)
        .transpose()
        .map_err(|_| anyhow::anyhow!("the passphrase is not UTF-8"))?;
    let s = restore::restore(
        &file,
        &dir,
        &restore::RestoreOptions {
            passphrase: pass,
            merge,
        },
    )
    .await?;
    out(&serde_json::to_value(&s)?, json, |_| {
        println!(
            "restored {} into {} in {:.1} s",
            s.manifest.did,
            dir.root().display(),
            s.took_ms as f64 / 1e3
        );
        println!(
            "  {} conversations restored{}, {} rows, {} blob tags",
            s.conversations_restored,
            if s.conversations_kept > 0 {
                format!(" ({} already there, kept)", s.conversations_kept)
            } else {
                String::new()
            },
            s.rows,
            s.blob_tags
        );
        println!("  the search index is rebuilt when the node next opens (`vivim up`)");
    })
}

/// `vivim check`: exits 1 when something is wrong.
pub async fn check(g: &Global, json: bool) -> Result<()> {
    let v = with_client(g, async |c| c.route("POST", "/api/admin/check", None).await).await?;
    out(&v, json, |v| {
        println!(
            "checked {} conversations, {} records ({:.1} MB), {} document updates, {} memories in {:.1} s",
            v["conversations"],
            v["records_checked"],
            v["bytes_checked"].as_f64().unwrap_or(0.0) / 1e6,
            v["documents_checked"],
            v["memories_checked"],
            v["took_ms"].as_f64().unwrap_or(0.0) / 1e3
        );
        println!(
            "full-text index: {} documents, {} expected",
            v["index"]["docs"], v["index"]["expected"]
        );
        for p in v["problems"].as_array().into_iter().flatten() {
            println!(
                "PROBLEM {}: {}{}{}",
                p["kind"].as_str().unwrap_or(""),
                p["conversation"]
                    .as_str()
                    .map(|c| format!("conversation {c} "))
                    .unwrap_or_default(),
                p["record"]
                    .as_str()
                    .map(|r| format!("record {r} "))
                    .unwrap_or_default(),
                p["detail"].as_str().unwrap_or("")
            );
        }
        if v["ok"] == json!(true) {
            println!("ok: everything verified");
        }
    })?;
    if v["ok"] != json!(true) {
        bail!("{} problem(s) found", v["problem_count"]);
    }
    Ok(())
}

/// `vivim rebuild text|vectors`.
pub async fn rebuild(g: &Global, what: String, json: bool) -> Result<()> {
    let body = json!({ "what": what });
    let v = with_client(g, async |c| {
        c.route("POST", "/api/admin/rebuild", Some(&body)).await
    })
    .await?;
    out(&v, json, |v| {
        println!(
            "rebuilt the {} index: {} entries in {:.1} s",
            v["what"].as_str().unwrap_or(""),
            v["docs"],
            v["took_ms"].as_f64().unwrap_or(0.0) / 1e3
        );
    })
}

/// `vivim compact` (the node must be stopped).
pub fn compact_cmd(g: &Global, json: bool) -> Result<()> {
    let done = compact(&g.dir()?)?;
    out(&serde_json::to_value(&done)?, json, |_| {
        for c in &done {
            println!(
                "{}: {:.1} MB → {:.1} MB",
                c.file,
                c.before as f64 / 1e6,
                c.after as f64 / 1e6
            );
        }
    })
}
