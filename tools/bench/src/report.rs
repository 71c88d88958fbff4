//! The bench's output: one JSON line per scenario as soon as it is measured (for scripts), and
//! a table at the end (for people), each with the figure, the reference measured in the same
//! run, their ratio and the target.

use serde_json::{Map, Value, json};

use crate::BenchOptions;

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct Figure {
    pub scenario: &'static str,
    /// The measured figure, as people read it.
    pub figure: String,
    /// What it is compared with, measured in the same run.
    pub reference: String,
    /// figure / reference, as people read it.
    pub ratio: String,
    pub target: String,
    /// `None` when the scenario could not run (see `note`).
    pub met: Option<bool>,
    pub note: Option<String>,
    /// Every number, for the JSON line.
    pub values: Map<String, Value>,
}

impl Figure {
    pub fn new(scenario: &'static str) -> Self {
        Figure {
            scenario,
            figure: String::new(),
            reference: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: None,
            note: None,
            values: Map::new(),
        }
    }

    pub fn value(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.values.insert(key.to_owned(), v.into());
        self
    }

    pub fn json(&self) -> Value {
        let mut m = self.values.clone();
        m.insert("scenario".into(), json!(self.scenario));
        m.insert("target".into(), json!(self.target));
        m.insert("target_met".into(), json!(self.met));
        if let Some(note) = &self.note {
            m.insert("note".into(), json!(note));
        }
        Value::Object(m)
    }
}

/// All figures of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub figures: Vec<Figure>,
    header: String,
}

impl Report {
    pub fn new(options: &BenchOptions) -> Self {
        let header = format!(
            "outpost-bench: {} records, {} simulated sites{}; {}",
            options.records,
            options.sites,
            if options.smoke { " (smoke)" } else { "" },
            machine()
        );
        println!("{header}");
        Report { figures: vec![], header }
    }

    pub fn add(&mut self, figure: Figure) {
        println!("{}", figure.json());
        self.figures.push(figure);
    }

    pub fn get(&self, scenario: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.scenario == scenario)
    }

    /// Print the table.
    pub fn finish(&self) {
        println!();
        println!("{}", self.header);
        println!("{}", self.table());
    }

    /// A Markdown table (also pasted into BENCHMARKS.md).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| scenario | figure | reference (same run) | ratio | target | met |\n|---|---|---|---|---|---|\n",
        );
        for f in &self.figures {
            let met = match f.met {
                Some(true) => "yes".to_owned(),
                Some(false) => "**no**".to_owned(),
                None => format!("skipped: {}", f.note.clone().unwrap_or_default()),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                f.scenario, f.figure, f.reference, f.ratio, f.target, met
            ));
        }
        out
    }
}

/// Cores, CPU model and RAM of this machine, for the report's header.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores, {model}, {ram_gb:.0} GB RAM")
}

/// `x` per second with thousands separators, for tables.
pub fn per_s(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
