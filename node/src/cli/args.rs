//! The command line: `vivim`'s global flags and its commands. Each command's own flags and
//! subcommands are declared in its area's module, next to the code that runs it.

use clap::{Parser, Subcommand};
use vivim_node::client::organize::MemoryCommand;

use super::{connect::Global, conversations, identity, organize, share, social, up};

/// VIVIM: keep, organize and share your AI conversations, peer to peer.
#[derive(Parser, Debug)]
#[command(name = "vivim", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// What `vivim` can do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the data directory and a new identity; prints the DID.
    Init(identity::InitArgs),
    /// Run the node: the local gateway and the peer-to-peer network.
    Up(up::UpArgs),
    /// Run a community relay/bootstrap node: DHT server, libp2p relay, and pinning of the
    /// public content announced by the nodes that use it. Same flags as `up`.
    Relay(up::UpArgs),
    /// Make a conversation public: announce it in the DHT and serve it to peers.
    Publish {
        /// Conversation id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch a public conversation from the network, verified, into this node.
    Fetch {
        /// Conversation id (64 hex characters).
        id: String,
        /// Fetch from this DID (default: the owner, then any node that pinned it).
        #[arg(long, value_name = "DID")]
        from: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Share a conversation (or one message) with a circle, people, a link, or everyone —
    /// sealed end to end for anything but public.
    Share(share::ShareArgs),
    /// Shares you made and received: list, show, revoke.
    Shares {
        #[command(subcommand)]
        command: share::SharesCommand,
    },
    /// Open a share link (vivim://share/…): fetch, decrypt, verify, store.
    Open {
        /// The link.
        link: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fork a conversation (or a prefix of it) into your space, keeping provenance.
    Fork(share::ForkArgs),
    /// Where a conversation came from: checks a fork against its signed originals.
    Provenance {
        /// Conversation id or prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What was shared with you and what the people you follow published, newest first.
    Feed(share::FeedArgs),
    /// Circles: the people you share with.
    Circle {
        #[command(subcommand)]
        command: social::CircleCommand,
    },
    /// Friends: requests, accepts, blocks.
    Friend {
        #[command(subcommand)]
        command: social::FriendCommand,
    },
    /// Follow someone (see their public activity).
    Follow {
        /// Their DID.
        did: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop following someone.
    Unfollow {
        /// Their DID.
        did: String,
    },
    /// Message requests: what people you do not know sent (list, accept, ignore, block).
    Requests {
        #[command(subcommand)]
        command: Option<super::requests::RequestsCommand>,
    },
    /// Who you follow and who follows you.
    Follows {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Groups (GENERAL, STUDY, PROJECT, COMMUNITY; PUBLIC, APPROVAL, PRIVATE).
    Group {
        #[command(subcommand)]
        command: social::GroupCommand,
    },
    /// Teams (WORK, PROJECT, PERSONAL; OPEN, INVITE).
    Team {
        #[command(subcommand)]
        command: social::GroupCommand,
    },
    /// Set your profile (name, bio, whether followers need approval).
    Profile(social::ProfileArgs),
    /// Connected peers: DID, addresses, latency.
    Peers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the gateway's bearer token.
    Token,
    /// Print the link that opens the web app of the running node, logged in (`--open`: open
    /// it in the default browser). The token is in the link's fragment, never sent to a server.
    Ui {
        /// Open the link in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Serve your conversations, memories and context engine to an AI assistant over the
    /// Model Context Protocol (stdio; the assistant launches this). Works with or without a
    /// running node. Which tools are offered is set under [mcp] in vivim.toml.
    Mcp {
        /// Print the entry to add to an assistant's MCP configuration, and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Show this node's identities: DID, libp2p PeerId, iroh EndpointId.
    Id {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// DID tools.
    Did {
        #[command(subcommand)]
        command: identity::DidCommand,
    },
    /// Import conversations from an export file, zip, directory or share URL.
    Import(conversations::ImportArgs),
    /// Browse stored conversations.
    #[command(alias = "conv")]
    Conversations {
        #[command(subcommand)]
        command: conversations::ConvCommand,
    },
    /// Full-text search over every message.
    Search(conversations::SearchArgs),
    /// Conversations related to one (by meaning).
    Related {
        /// Conversation id or prefix.
        id: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Memories: what you learned, decided and prefer, drawn from your conversations.
    Memory {
        #[command(subcommand)]
        command: MemoryCommand,
    },
    /// Assemble the context for a question under a token budget (memories, retrieved
    /// messages, recent turns); --send asks the configured provider and stores the exchange.
    Context(organize::ContextArgs),
    /// Write a backup of the node (running or not) to a new file: records, documents, shares,
    /// memories; with --keys the identity too, sealed with the passphrase of --passphrase-env.
    Backup {
        /// The archive to write (a zip file).
        file: std::path::PathBuf,
        /// Put the identity in, sealed with the passphrase (--passphrase-env VAR).
        #[arg(long)]
        keys: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into --data-dir (a new directory; --merge adds to one of the same
    /// identity). Keys in the backup are opened with --passphrase-env VAR.
    Restore {
        /// The archive.
        file: std::path::PathBuf,
        /// Add to a data dir that already holds this identity's data.
        #[arg(long)]
        merge: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-verify everything stored (hashes, signatures, counts, the search index); exits 1
    /// when something is wrong, naming it.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a derived index: `text` (full-text) or `vectors`.
    Rebuild {
        /// text or vectors.
        #[arg(value_parser = ["text", "vectors"])]
        what: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give the databases' free space back to the disk (stop the node first).
    Compact {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
