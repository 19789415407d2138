//! A bare axum hello-world: the anchor for the gateway's requests/s.
//!
//! `cargo run --release -p vivim-examples --example hello_axum -- 127.0.0.1:7788`

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7788".into());
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("hello_axum on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
