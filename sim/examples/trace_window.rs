//! Debugging aid: prints the trace events of a scenario file between two instants (in seconds).
//! `cargo run --release -p forge-sim --example trace_window -- FILE FROM_S TO_S`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(from), Some(to)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: trace_window FILE FROM_S TO_S");
        std::process::exit(2);
    };
    let from: u64 = from.parse().unwrap_or(0) * 1000;
    let to: u64 = to.parse().unwrap_or(u64::MAX / 1000) * 1000;
    let scenario = match forge_sim::scenario::Scenario::from_file(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match forge_sim::runner::run(&scenario, &forge_sim::runner::RunOptions::default()) {
        Ok(o) => {
            for e in &o.trace.events {
                if e.at_ms >= from && e.at_ms <= to {
                    println!("{:>9} {:?}", e.at_ms, e.kind);
                }
            }
        }
        Err(e) => eprintln!("{e}"),
    }
}
