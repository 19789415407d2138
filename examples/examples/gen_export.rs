//! Writes a generated ChatGPT export (for trying imports and measuring them).
//!
//! `cargo run --release -p vivim-examples --example gen_export -- OUT.json [CONVERSATIONS] [MESSAGES] [WORDS]`

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: gen_export OUT.json [CONVERSATIONS] [MESSAGES] [WORDS]")
    })?;
    let n: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    let file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    vivim_node::testdata::write_chatgpt_export(
        file,
        n.first().copied().unwrap_or(2000),
        n.get(1).copied().unwrap_or(50),
        n.get(2).copied().unwrap_or(60),
        1,
    )?;
    println!("wrote {out} ({} bytes)", std::fs::metadata(&out)?.len());
    Ok(())
}
