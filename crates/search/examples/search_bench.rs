//! Search latency of the `erpbridge bench sync` query set on an existing index directory.
//!
//! Building a 1.5M-article index takes minutes; iterating on the search code against a
//! copy of one does not. Make the copy with `erpbridge bench sync --dir DIR ...` (its
//! `DIR/search` holds the tenant `bench`), copy `DIR/search` away (the bench keeps using
//! its own), then:
//!
//! ```sh
//! cargo run --release -p erpbridge-search --example search_bench -- /work/search-idx
//! cargo run --release -p erpbridge-search --example search_bench -- /work/search-idx \
//!     --rounds 20 --dump before.txt
//! ```
//!
//! Options: `--tenant T` (default `bench`), `--rounds N` (default 10; one warm-up
//! before), `--dump FILE` (every query's total and the (id, score) of its first page, to
//! diff the hits of two builds), `--number`, `--name`, `--noun`, `--category`, `--desc`
//! (the sample article's values the bench takes from the sim's article `A00000042`; the
//! defaults are those of a fresh 1.5M-article sim with seed 42) and `--query TEXT`
//! (repeatable; replaces the query set with these, limit 20 and 1,000 each).
//!
//! p50/p95 use the bench's percentile (nearest rank) over the rounds of a query, and
//! over all samples of all queries for the overall figure.

use std::io::Write as _;
use std::time::{Duration, Instant};

use erpbridge_search::{IndexOptions, SearchIndexes, SearchRequest};

struct Sample {
    number: String,
    name: String,
    noun: String,
    category: String,
    desc: String,
}

/// The same requests, in the same order, as `query_set()` of `erpbridge bench sync`.
fn query_set(s: &Sample) -> Vec<SearchRequest> {
    let req = |query: &str, category: Option<&str>, limit: usize| SearchRequest {
        query: query.to_owned(),
        category: category.map(str::to_owned),
        limit,
        cursor: None,
    };
    vec![
        req(&s.number, None, 20),
        req(&s.name, None, 20),
        req(&s.noun, None, 20),
        req(&s.noun, None, 1_000),
        req(&s.noun, Some(&s.category), 20),
        req("", Some(&s.category), 1_000),
        req(&s.desc, None, 1_000),
        req("stahl", None, 20),
        req("steel", None, 1_000),
        req("stainless steel", None, 20),
        req("series", None, 1_000),
    ]
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut root = None;
    let mut tenant = "bench".to_owned();
    let mut rounds = 10usize;
    let mut dump = None;
    let mut queries = Vec::new();
    let mut sample = Sample {
        number: "142-0000042".to_owned(),
        name: "Wasserwaage premium, Serie 171, Größe 31".to_owned(),
        noun: "Wasserwaage".to_owned(),
        category: "CAT0142".to_owned(),
        desc: "Spirit level".to_owned(),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--tenant" => tenant = value()?,
            "--rounds" => rounds = value()?.parse()?,
            "--dump" => dump = Some(value()?),
            "--number" => sample.number = value()?,
            "--name" => sample.name = value()?,
            "--noun" => sample.noun = value()?,
            "--category" => sample.category = value()?,
            "--desc" => sample.desc = value()?,
            "--query" => queries.push(value()?),
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}").into()),
            _ => root = Some(arg),
        }
    }
    let root = root.ok_or("usage: search_bench INDEX_ROOT [options] (see the doc comment)")?;
    let requests = if queries.is_empty() {
        query_set(&sample)
    } else {
        queries
            .iter()
            .flat_map(|q| {
                [20, 1_000].map(|limit| SearchRequest {
                    query: q.clone(),
                    limit,
                    ..SearchRequest::default()
                })
            })
            .collect()
    };

    let indexes = SearchIndexes::new(&root, IndexOptions::default());
    let index = indexes.tenant(&tenant)?;
    println!("{} documents in {root}/{tenant}", index.num_docs());
    let mut dump = dump.map(std::fs::File::create).transpose()?;
    let mut all = Vec::new();
    println!(
        "{:<44} {:>9} {:>5} {:>9} {:>9}",
        "query", "total", "limit", "p50 ms", "p95 ms"
    );
    for request in &requests {
        let page = index.search(request)?;
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let page = index.search(request)?;
            samples.push(t.elapsed());
            std::hint::black_box(page);
        }
        samples.sort();
        all.extend(samples.iter().copied());
        let label = match &request.category {
            Some(c) => format!("`{}` in {c}", request.query),
            None => format!("`{}`", request.query),
        };
        let total = format!("{}{}", page.total, page.total_relation.symbol());
        println!(
            "{label:<44} {total:>9} {:>5} {:>9.2} {:>9.2}",
            request.limit,
            ms(percentile(&samples, 0.50)),
            ms(percentile(&samples, 0.95)),
        );
        if let Some(file) = &mut dump {
            writeln!(
                file,
                "{label} limit {}: {} hits ({}), more {}",
                request.limit,
                page.total,
                page.total_relation.as_str(),
                page.next_cursor.is_some()
            )?;
            for hit in &page.hits {
                writeln!(file, "  {} {} {}", hit.local_id, hit.erp_id, hit.score)?;
            }
        }
    }
    all.sort();
    println!(
        "overall p50 / p95 {:.2} / {:.2} ms (max {:.2} ms, {} samples)",
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.95)),
        ms(all.last().copied().unwrap_or_default()),
        all.len()
    );
    Ok(())
}
