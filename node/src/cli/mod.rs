//! The `vivim` binary's commands, one module per area. `args` declares the command line;
//! the area modules run their commands; `connect` (opening the node) and `output` (printing)
//! sit below them and import none of them.

pub mod admin;
pub mod args;
pub mod connect;
pub mod conversations;
pub mod identity;
pub mod mcp;
pub mod network;
pub mod organize;
pub mod output;
pub mod requests;
pub mod share;
pub mod social;
pub mod ui;
pub mod up;
