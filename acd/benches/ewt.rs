//! Wait-estimate accuracy on simulated traffic (seeded Poisson arrivals,
//! exponential handle times, virtual time): median absolute error of pbx's
//! estimate next to Asterisk app_queue's hold-time average on the same
//! calls. Prints a table; `cargo bench -p acd --bench ewt`.

use acd::sim::{simulate_ewt, Traffic};

fn main() {
    println!("traffic: 10 agents, 180 s mean handle, load 0.85 -> 0.98 -> 0.8 -> 0.95, 2,000 calls per phase");
    println!(
        "{:>5} {:>7} {:>8} {:>12} {:>14}",
        "seed", "calls", "waited", "pbx MAE s", "asterisk MAE s"
    );
    let (mut pbx, mut ast) = (Vec::new(), Vec::new());
    for seed in 1..=5 {
        let r = simulate_ewt(&Traffic::standard(seed));
        println!(
            "{seed:>5} {:>7} {:>8} {:>12.1} {:>14.1}   (mean wait {:.1} s)",
            r.calls, r.samples, r.pbx_median_abs_err_s, r.asterisk_median_abs_err_s, r.mean_wait_s
        );
        pbx.push(r.pbx_median_abs_err_s);
        ast.push(r.asterisk_median_abs_err_s);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "mean of medians: pbx {:.1} s, asterisk {:.1} s",
        mean(&pbx),
        mean(&ast)
    );
}
