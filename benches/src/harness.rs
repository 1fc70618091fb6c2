//! The measuring harness: calibrated samples, peers alternating, medians, FIGURE lines.
//!
//! Every contender is a closure that runs its operation `iters` times and returns the elapsed
//! time; set-up happens when the closure is built, outside the timed loop. [`compare`]
//! calibrates each contender to a sample of about [`Options::sample`], then takes
//! [`Options::rounds`] samples of each, rotating the order every round so that no peer always
//! runs first or last, and reports the median nanoseconds per operation.

use std::time::{Duration, Instant};

/// How long and how often the contenders of one comparison are sampled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Samples taken of each contender; the median is reported.
    pub(crate) rounds: usize,
    /// The target length of one sample.
    pub(crate) sample: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 11,
            sample: Duration::from_millis(30),
        }
    }
}

/// One measured thing: a name (the FIGURE column) and a closure that runs it `iters` times.
pub(crate) struct Contender<'a> {
    /// The FIGURE column this contender fills.
    pub(crate) name: &'static str,
    run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

impl std::fmt::Debug for Contender<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a> Contender<'a> {
    /// A contender whose closure times itself (for operations that need untimed work per batch).
    pub(crate) fn timed(name: &'static str, run: impl FnMut(u64) -> Duration + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }

    /// A contender whose closure runs one operation; the harness times a loop of it.
    pub(crate) fn each(name: &'static str, mut op: impl FnMut() + 'a) -> Self {
        Contender::timed(name, move |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                op();
            }
            start.elapsed()
        })
    }
}

/// The result for one contender: median, minimum and maximum nanoseconds per operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    /// The FIGURE column.
    pub(crate) name: &'static str,
    /// Median ns per operation over the rounds.
    pub(crate) median: f64,
    /// Fastest sample.
    pub(crate) min: f64,
    /// Slowest sample.
    pub(crate) max: f64,
}

/// Finds how many iterations fill one sample of about `target`.
fn calibrate(c: &mut Contender<'_>, target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = (c.run)(iters);
        if took >= target / 4 || iters >= 1 << 40 {
            let per = took.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per.max(1e-12)) as u64).max(1);
        }
        iters *= 2;
    }
}

/// The median of a slice of samples (sorted in place).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Measures every contender as the module docs describe and prints one human line each.
pub(crate) fn compare(
    label: &str,
    contenders: &mut [Contender<'_>],
    opts: Options,
) -> Vec<Measured> {
    let iters: Vec<u64> = contenders
        .iter_mut()
        .map(|c| calibrate(c, opts.sample))
        .collect();
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(opts.rounds); n];
    for round in 0..opts.rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let took = (contenders[i].run)(iters[i]);
            samples[i].push(took.as_secs_f64() * 1e9 / iters[i] as f64);
        }
    }
    let out: Vec<Measured> = contenders
        .iter()
        .zip(samples.iter_mut())
        .map(|(c, s)| {
            let med = median(s);
            Measured {
                name: c.name,
                median: med,
                min: s[0],
                max: s[s.len() - 1],
            }
        })
        .collect();
    for m in &out {
        println!(
            "{label:<26} {:<18} median {:>10.2} ns   (min {:.2}, max {:.2}, {} rounds)",
            m.name, m.median, m.min, m.max, opts.rounds
        );
    }
    out
}

/// Formats a figure value: two decimals below 100 (below 1,000 for times in `ns`, where a few
/// nanoseconds between two syscalls matter), whole numbers above.
pub(crate) fn fmt_value(v: f64, unit: &str) -> String {
    let fine = if unit == "ns" { 1000.0 } else { 100.0 };
    if !v.is_finite() {
        "nan".to_string()
    } else if v.abs() < fine {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// Prints one machine-readable line: `FIGURE <name> <unit> coro <v> <peer> <v> ...`.
pub(crate) fn figure(name: &str, unit: &str, columns: &[(&str, f64)]) {
    let mut line = format!("FIGURE {name} {unit}");
    for (col, v) in columns {
        line.push(' ');
        line.push_str(col);
        line.push(' ');
        line.push_str(&fmt_value(*v, unit));
    }
    println!("{line}");
}

/// The median of the contender named `name` (NaN if it was not measured).
pub(crate) fn get(ms: &[Measured], name: &str) -> f64 {
    ms.iter()
        .find(|m| m.name == name)
        .map_or(f64::NAN, |m| m.median)
}
