//! `vivim share|shares|open|fork|provenance|feed`: sharing from the command line, through the
//! gateway routes (the running node's, or in-process).

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use vivim_node::client::Client;

use super::output::{enc, out};

/// `vivim share …`
#[derive(Args, Debug)]
pub struct ShareArgs {
    /// Conversation id or prefix, or an ACU id.
    pub id: String,
    /// Share with the members of this circle.
    #[arg(long, value_name = "CIRCLE")]
    pub circle: Option<String>,
    /// Share with this person (repeat for more).
    #[arg(long = "to", value_name = "DID")]
    pub to: Vec<String>,
    /// Publish for everyone.
    #[arg(long)]
    pub public: bool,
    /// Make a link that carries the key (anyone with the link can read).
    #[arg(long)]
    pub link: bool,
    /// Ends after this long: `90s`, `10m`, `2h`, `7d`.
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
    /// Seal it now, deliver it later (`vivim shares activate <id>`).
    #[arg(long)]
    pub draft: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `vivim shares …`
#[derive(Subcommand, Debug)]
pub enum SharesCommand {
    /// Shares you made and shares you received.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One share.
    Show {
        /// Share id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver a draft share.
    Activate {
        /// Share id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a share you made: recipients are told and your node stops serving it.
    Revoke {
        /// Share id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `vivim fork …`
#[derive(Args, Debug)]
pub struct ForkArgs {
    /// Conversation id or prefix.
    id: String,
    /// Copy up to this message (ACU id or prefix; default: the head).
    #[arg(long, value_name = "ACU")]
    upto: Option<String>,
    /// Title of the fork.
    #[arg(long)]
    title: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `vivim feed …`
#[derive(Args, Debug)]
pub struct FeedArgs {
    /// How many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Continue after this cursor.
    #[arg(long)]
    cursor: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Parses `90s`, `10m`, `2h`, `7d` or plain seconds.
pub fn parse_duration_s(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a duration (try 90s, 10m, 2h, 7d)"))?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{s:?} is not a duration (try 90s, 10m, 2h, 7d)"),
    };
    Ok(n.saturating_mul(mul))
}

fn print_share(v: &Value) {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let short = |x: String| x.chars().take(12).collect::<String>();
    println!(
        "{}  {} {} {} to {}  [{}{}]",
        short(s("id")),
        if v["mine"].as_bool() == Some(true) {
            "you"
        } else {
            "from"
        },
        if v["mine"].as_bool() == Some(true) {
            s("intent")
        } else {
            s("actor")
        },
        short(s("content")),
        s("audience"),
        s("status"),
        match s("state").as_str() {
            "" | "active" => String::new(),
            st => format!(", {st}"),
        }
    );
    if let Some(t) = v["title"].as_str() {
        println!("    {t}");
    }
    if let Some(l) = v["link"].as_str() {
        println!("    link: {l}");
    }
    if let Some(e) = v["error"].as_str() {
        println!("    error: {e}");
    }
}

/// Runs `vivim share …`.
pub async fn share(client: &Client, a: ShareArgs) -> Result<()> {
    let mut body = json!({
        "content": a.id,
        "public": a.public,
        "link": a.link,
        "to": a.to,
        "draft": a.draft,
    });
    if let Some(c) = &a.circle {
        body["circle"] = c.clone().into();
    }
    if let Some(e) = &a.expires {
        body["expires_in_s"] = parse_duration_s(e)?.into();
    }
    let v = client.route("POST", "/api/v2/shares", Some(&body)).await?;
    out(&v, a.json, |v| {
        println!(
            "shared {} with {} ({} recipient key{})",
            v["content"].as_str().unwrap_or_default(),
            v["audience"].as_str().unwrap_or_default(),
            v["recipients"].as_array().map_or(0, |r| r.len()),
            if v["recipients"].as_array().map_or(0, |r| r.len()) == 1 {
                ""
            } else {
                "s"
            }
        );
        println!("share id {}", v["id"].as_str().unwrap_or_default());
        if let Some(l) = v["link"].as_str() {
            println!("link: {l}");
        }
    })
}

/// Runs `vivim shares …`.
pub async fn shares(client: &Client, cmd: SharesCommand) -> Result<()> {
    match cmd {
        SharesCommand::List { json } => {
            let v = client.route("GET", "/api/v2/shares", None).await?;
            out(&v, json, |v| {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!(
                        "no shares yet: vivim share <conversation> --circle <id> | --to <did> | --link"
                    );
                }
                list.iter().for_each(print_share);
            })
        }
        SharesCommand::Show { id, json } => {
            let v = client
                .route("GET", &format!("/api/v2/shares/{}", enc(&id)), None)
                .await?;
            out(&v, json, print_share)
        }
        SharesCommand::Activate { id, json } => action(client, &id, "activate", json).await,
        SharesCommand::Revoke { id, json } => action(client, &id, "revoke", json).await,
    }
}

/// `POST /api/v2/shares/<id>/<action>`, printed.
async fn action(client: &Client, id: &str, action: &str, json: bool) -> Result<()> {
    let v = client
        .route(
            "POST",
            &format!("/api/v2/shares/{}/{action}", enc(id)),
            Some(&json!({})),
        )
        .await?;
    out(&v, json, print_share)
}

/// Runs `vivim open <link>`.
pub async fn open(client: &Client, link: &str, json: bool) -> Result<()> {
    let v = client
        .route("POST", "/api/v2/open", Some(&json!({ "link": link })))
        .await?;
    out(&v, json, |v| {
        println!(
            "opened {} \"{}\" by {}: {} messages from {} in {:.2}s",
            v["conversation"].as_str().unwrap_or_default(),
            v["title"].as_str().unwrap_or_default(),
            v["owner"].as_str().unwrap_or_default(),
            v["acus"],
            v["source"].as_str().unwrap_or_default(),
            v["seconds"].as_f64().unwrap_or_default()
        )
    })
}

/// Runs `vivim fork <conversation>`.
pub async fn fork(client: &Client, a: ForkArgs) -> Result<()> {
    let ForkArgs {
        id,
        upto,
        title,
        json,
    } = a;
    let body = json!({ "conversation": id, "upto": upto, "title": title });
    let v = client.route("POST", "/api/v2/forks", Some(&body)).await?;
    out(&v, json, |v| {
        println!(
            "forked {} into {} ({} messages, signed by you)",
            v["forked_from"].as_str().unwrap_or_default(),
            v["conversation"].as_str().unwrap_or_default(),
            v["acus"]
        )
    })
}

/// Runs `vivim provenance <conversation>`.
pub async fn provenance(client: &Client, id: &str, json: bool) -> Result<()> {
    let v = client
        .route(
            "GET",
            &format!("/api/v2/conversations/{}/provenance", enc(id)),
            None,
        )
        .await?;
    out(&v, json, |v| {
        match v["forked_from"].as_str() {
            Some(f) => println!(
                "{} is a fork of {} by {}: {}",
                v["conversation"].as_str().unwrap_or_default(),
                f,
                v["original_owner"].as_str().unwrap_or_default(),
                if v["verified"].as_bool() == Some(true) {
                    "every copied message verifies against its signed original"
                } else {
                    "NOT fully verified"
                }
            ),
            None => println!(
                "{} is an original conversation by {}",
                v["conversation"].as_str().unwrap_or_default(),
                v["owner"].as_str().unwrap_or_default()
            ),
        }
        for a in v["acus"].as_array().cloned().unwrap_or_default() {
            let s = |k: &str| {
                a[k].as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(12)
                    .collect::<String>()
            };
            println!(
                "  {} <- {} {}",
                s("acu"),
                s("original"),
                if a["verified"].as_bool() == Some(true) {
                    "ok".to_string()
                } else {
                    a["problem"].as_str().unwrap_or("unverified").to_string()
                }
            );
        }
    })
}

/// Runs `vivim feed`.
pub async fn feed(client: &Client, a: FeedArgs) -> Result<()> {
    let FeedArgs {
        limit,
        cursor,
        json,
    } = a;
    let mut path = format!("/api/v2/feed?limit={limit}");
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={}", enc(&c)));
    }
    let v = client.route("GET", &path, None).await?;
    out(&v, json, |v| {
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            println!("nothing in your feed yet");
        }
        for i in items {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            let who = i["actor_name"]
                .as_str()
                .map_or_else(|| s("actor"), str::to_string);
            println!(
                "{}  {} {}: {} [{}]",
                s("id").chars().take(12).collect::<String>(),
                who,
                s("kind"),
                i["title"].as_str().unwrap_or("(not opened yet)"),
                s("status")
            );
        }
        if let Some(c) = v["next_cursor"].as_str() {
            println!("more: vivim feed --cursor {c}");
        }
    })
}
