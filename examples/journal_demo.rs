//! Writes the two-pod failover journals used in docs/journal.md:
//! `cargo run --example journal_demo -- DIR` creates DIR/bp-0.journal and DIR/bp-1.journal.

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: journal_demo DIR"))?;
    std::fs::create_dir_all(&dir)?;
    for p in forge_manager::journal::demo::write_failover(std::path::Path::new(&dir))? {
        println!("{}", p.display());
    }
    Ok(())
}
