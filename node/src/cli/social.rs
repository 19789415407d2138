//! `vivim circle|friend|follow|unfollow|follows|group|team|profile`: the social graph from the
//! command line, through the gateway routes (the running node's, or in-process).

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use vivim_node::client::Client;

use super::output::{enc, out};

/// `vivim circle …`
#[derive(Subcommand, Debug)]
pub enum CircleCommand {
    /// Create a circle (you are its owner).
    Create {
        /// Its name.
        name: String,
        /// Make it public (default: private).
        #[arg(long)]
        public: bool,
        /// A member's DID (repeat for more).
        #[arg(long = "member", value_name = "DID")]
        members: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Circles you own or belong to.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One circle and its members.
    Show {
        /// Circle id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add someone to your circle.
    Add {
        /// Circle id.
        id: String,
        /// Their DID.
        did: String,
        /// member or admin.
        #[arg(long, default_value = "member")]
        role: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove someone from your circle.
    Remove {
        /// Circle id.
        id: String,
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete your circle.
    Delete {
        /// Circle id.
        id: String,
    },
}

/// `vivim friend …`
#[derive(Subcommand, Debug)]
pub enum FriendCommand {
    /// Ask someone to be friends.
    Request {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a request.
    Accept {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decline a request.
    Reject {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw your request, or end a friendship.
    Cancel {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Block someone.
    Block {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unblock someone.
    Unblock {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Friends and requests, with their status.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `vivim group …` and `vivim team …`
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create one (you are its owner).
    Create {
        /// Its name.
        name: String,
        /// Groups: general, study, project, community. Teams: work, project, personal.
        #[arg(long)]
        kind: String,
        /// Groups: public, approval, private. Teams: open, invite.
        #[arg(long, alias = "visibility")]
        access: String,
        /// What it is about.
        #[arg(long, default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The ones you own, belong to or asked to join.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One, with members and requests.
    Show {
        /// Its id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask to join.
    Join {
        /// Its id.
        id: String,
        /// A note to the owner.
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Leave (withdraw your request).
    Leave {
        /// Its id.
        id: String,
    },
    /// Add a member (accept a request, or invite).
    Add {
        /// Its id.
        id: String,
        /// Their DID.
        did: String,
        /// member or admin.
        #[arg(long, default_value = "member")]
        role: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a member.
    Remove {
        /// Its id.
        id: String,
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete it.
    Delete {
        /// Its id.
        id: String,
    },
}

/// `vivim profile …`
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// About you.
    #[arg(long)]
    bio: Option<String>,
    /// New followers wait for your approval.
    #[arg(long)]
    follow_approval: Option<bool>,
}

fn print_circle(c: &Value) {
    println!(
        "{}  {} ({}, {} members){}",
        c["id"].as_str().unwrap_or_default(),
        c["name"].as_str().unwrap_or_default(),
        c["visibility"].as_str().unwrap_or_default(),
        c["members"].as_array().map(|m| m.len()).unwrap_or(0),
        if c["mine"].as_bool() == Some(true) {
            ""
        } else {
            "  [member]"
        }
    );
}

fn print_members(v: &Value) {
    for m in v["members"].as_array().into_iter().flatten() {
        println!(
            "  {:<7} {}",
            m["role"].as_str().unwrap_or_default(),
            m["did"].as_str().unwrap_or_default()
        );
    }
}

/// Runs `vivim circle …`.
pub async fn circle(client: &Client, cmd: CircleCommand) -> Result<()> {
    match cmd {
        CircleCommand::Create {
            name,
            public,
            members,
            json,
        } => {
            let body = json!({
                "name": name,
                "visibility": if public { "public" } else { "private" },
                "members": members,
            });
            let v = client.route("POST", "/api/v2/circles", Some(&body)).await?;
            out(&v, json, |v| {
                print_circle(v);
                print_members(v);
            })
        }
        CircleCommand::List { json } => {
            let v = client.route("GET", "/api/v2/circles", None).await?;
            out(&v, json, |v| {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no circles yet: vivim circle create <name> --member <did>");
                }
                list.iter().for_each(print_circle);
            })
        }
        CircleCommand::Show { id, json } => {
            let v = client
                .route("GET", &format!("/api/v2/circles/{}", enc(&id)), None)
                .await?;
            out(&v, json, |v| {
                print_circle(v);
                print_members(v);
            })
        }
        CircleCommand::Add {
            id,
            did,
            role,
            json,
        } => {
            let body = json!({"did": did, "role": role});
            let v = client
                .route(
                    "POST",
                    &format!("/api/v2/circles/{}/members", enc(&id)),
                    Some(&body),
                )
                .await?;
            out(&v, json, |v| {
                print_circle(v);
                print_members(v);
            })
        }
        CircleCommand::Remove { id, did, json } => {
            let v = client
                .route(
                    "DELETE",
                    &format!("/api/v2/circles/{}/members/{}", enc(&id), enc(&did)),
                    None,
                )
                .await?;
            out(&v, json, |v| {
                print_circle(v);
                print_members(v);
            })
        }
        CircleCommand::Delete { id } => {
            client
                .route("DELETE", &format!("/api/v2/circles/{}", enc(&id)), None)
                .await?;
            println!("deleted {id}");
            Ok(())
        }
    }
}

fn print_friend(f: &Value) {
    println!(
        "{:<9} {:<8} {}{}",
        f["status"].as_str().unwrap_or_default(),
        f["direction"].as_str().unwrap_or_default(),
        f["did"].as_str().unwrap_or_default(),
        f["name"]
            .as_str()
            .map(|n| format!("  ({n})"))
            .unwrap_or_default()
    );
}

/// Runs `vivim friend …`.
pub async fn friend(client: &Client, cmd: FriendCommand) -> Result<()> {
    let (action, did, json) = match cmd {
        FriendCommand::List { json } => {
            let v = client.route("GET", "/api/v3/friends", None).await?;
            return out(&v, json, |v| {
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no friends yet: vivim friend request <did>");
                }
                list.iter().for_each(print_friend);
            });
        }
        FriendCommand::Request { did, json } => ("request", did, json),
        FriendCommand::Accept { did, json } => ("accept", did, json),
        FriendCommand::Reject { did, json } => ("reject", did, json),
        FriendCommand::Cancel { did, json } => ("cancel", did, json),
        FriendCommand::Block { did, json } => ("block", did, json),
        FriendCommand::Unblock { did, json } => ("unblock", did, json),
    };
    let v = client
        .route(
            "POST",
            &format!("/api/v3/friends/{}/{action}", enc(&did)),
            None,
        )
        .await?;
    out(&v, json, print_friend)
}

/// Runs `vivim follow <did>`.
pub async fn follow(client: &Client, did: &str, json: bool) -> Result<()> {
    let v = client
        .route("POST", "/api/v3/follows", Some(&json!({"did": did})))
        .await?;
    out(&v, json, |v| {
        println!(
            "following {} ({})",
            v["did"].as_str().unwrap_or_default(),
            v["status"].as_str().unwrap_or_default()
        )
    })
}

/// Runs `vivim unfollow <did>`.
pub async fn unfollow(client: &Client, did: &str) -> Result<()> {
    client
        .route("DELETE", &format!("/api/v3/follows/{}", enc(did)), None)
        .await?;
    println!("unfollowed {did}");
    Ok(())
}

/// Runs `vivim follows`.
pub async fn follows(client: &Client, json: bool) -> Result<()> {
    let v = client.route("GET", "/api/v3/follows", None).await?;
    out(&v, json, |v| {
        for (title, key) in [("following", "following"), ("followers", "followers")] {
            println!("{title}:");
            for f in v[key].as_array().into_iter().flatten() {
                println!(
                    "  {:<8} {}",
                    f["status"].as_str().unwrap_or_default(),
                    f["did"].as_str().unwrap_or_default()
                );
            }
        }
    })
}

/// Runs `vivim profile`.
pub async fn profile(client: &Client, a: ProfileArgs) -> Result<()> {
    let ProfileArgs {
        name,
        bio,
        follow_approval,
    } = a;
    let body = json!({"name": name, "bio": bio, "follow_approval": follow_approval});
    client.route("POST", "/api/v3/profile", Some(&body)).await?;
    println!("profile updated");
    Ok(())
}

fn print_group(g: &Value) {
    println!(
        "{}  {} ({}, {}, {} members) — you: {}",
        g["id"].as_str().unwrap_or_default(),
        g["name"].as_str().unwrap_or_default(),
        g["kind"].as_str().unwrap_or_default(),
        g["access"].as_str().unwrap_or_default(),
        g["members"].as_array().map(|m| m.len()).unwrap_or(0),
        g["me"]["status"].as_str().unwrap_or_default(),
    );
}

/// Runs `vivim group …` (`base` = `/api/v3/groups`) or `vivim team …` (`/api/v3/teams`).
pub async fn group(client: &Client, base: &str, cmd: GroupCommand) -> Result<()> {
    let team = base.ends_with("teams");
    match cmd {
        GroupCommand::Create {
            name,
            kind,
            access,
            description,
            json,
        } => {
            let mut body = json!({"name": name, "kind": kind, "description": description});
            body[if team { "access" } else { "visibility" }] = access.into();
            let v = client.route("POST", base, Some(&body)).await?;
            out(&v, json, print_group)
        }
        GroupCommand::List { json } => {
            let v = client.route("GET", base, None).await?;
            out(&v, json, |v| {
                v.as_array().into_iter().flatten().for_each(print_group)
            })
        }
        GroupCommand::Show { id, json } => {
            let v = client
                .route("GET", &format!("{base}/{}", enc(&id)), None)
                .await?;
            out(&v, json, |v| {
                print_group(v);
                print_members(v);
                for r in v["requests"].as_array().into_iter().flatten() {
                    println!("  asks    {}", r.as_str().unwrap_or_default());
                }
            })
        }
        GroupCommand::Join { id, message } => {
            client
                .route(
                    "POST",
                    &format!("{base}/{}/join", enc(&id)),
                    Some(&json!({"message": message})),
                )
                .await?;
            println!("asked to join {id}");
            Ok(())
        }
        GroupCommand::Leave { id } => {
            client
                .route("POST", &format!("{base}/{}/leave", enc(&id)), None)
                .await?;
            println!("left {id}");
            Ok(())
        }
        GroupCommand::Add {
            id,
            did,
            role,
            json,
        } => {
            let v = client
                .route(
                    "POST",
                    &format!("{base}/{}/members", enc(&id)),
                    Some(&json!({"did": did, "role": role})),
                )
                .await?;
            out(&v, json, |v| {
                print_group(v);
                print_members(v);
            })
        }
        GroupCommand::Remove { id, did, json } => {
            let v = client
                .route(
                    "DELETE",
                    &format!("{base}/{}/members/{}", enc(&id), enc(&did)),
                    None,
                )
                .await?;
            out(&v, json, |v| {
                print_group(v);
                print_members(v);
            })
        }
        GroupCommand::Delete { id } => {
            client
                .route("DELETE", &format!("{base}/{}", enc(&id)), None)
                .await?;
            println!("deleted {id}");
            Ok(())
        }
    }
}
