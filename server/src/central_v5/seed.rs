//! Generated central data of realistic shape and mix, for demos and load: units, items, names,
//! a few spare stores, and for each given store its locations, name links, stock lines and
//! invoices with lines. Everything goes through the same write path as admin upserts, so it
//! reaches sites through the change log and the queues like real data.

use indicatif::ProgressBar;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::data;
use crate::db::CentralDb;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub records: u64,
    pub central: u64,
    pub store_data: u64,
}

/// Seed `n` records without showing progress.
pub async fn seed(db: &CentralDb, n: u64, site_store_ids: &[String]) -> anyhow::Result<SeedSummary> {
    seed_with_progress(db, n, site_store_ids, &ProgressBar::hidden()).await
}

/// Seed `n` records, advancing `bar` by one per record.
pub async fn seed_with_progress(
    db: &CentralDb,
    n: u64,
    site_store_ids: &[String],
    bar: &ProgressBar,
) -> anyhow::Result<SeedSummary> {
    bar.set_length(n);
    let plan = plan(n, site_store_ids);
    let mut rng = SmallRng::seed_from_u64(uuid::Uuid::new_v4().as_u128() as u64);
    let run = short_id(&mut rng);
    let mut generator = Generator { rng, run, units: vec![], items: vec![], names: vec![], counter: 0 };
    let mut summary = SeedSummary::default();
    let mut tx = data::begin(db).await?;
    for (i, (table, store)) in plan.iter().enumerate() {
        for (table, record) in generator.make(table, store.as_deref()) {
            data::central_upsert(&mut tx, table, &record).await?;
            summary.records += 1;
            if store.is_some() {
                summary.store_data += 1
            } else {
                summary.central += 1
            }
            bar.inc(1);
        }
        // Commit in slices so a big seed neither holds one huge transaction nor blocks sync.
        if i % 500 == 499 {
            tx.commit().await?;
            tx = data::begin(db).await?;
        }
    }
    tx.commit().await?;
    bar.finish();
    Ok(summary)
}

/// What to generate, in dependency order; invoices count as themselves plus their lines.
fn plan(n: u64, stores: &[String]) -> Vec<(&'static str, Option<String>)> {
    let mut plan = Vec::new();
    let units = (n * 3 / 100).max(1);
    let items = (n * 15 / 100).max(1);
    let names = (n * 10 / 100).max(1);
    let spare_stores = n / 200;
    let mut left = n.saturating_sub(units + items + names + spare_stores * 2);
    plan.extend(std::iter::repeat_n(("unit", None), units as usize));
    plan.extend(std::iter::repeat_n(("item", None), items as usize));
    plan.extend(std::iter::repeat_n(("name", None), names as usize));
    plan.extend(std::iter::repeat_n(("spare_store", None), spare_stores as usize));
    if stores.is_empty() {
        plan.extend(std::iter::repeat_n(("item", None), left as usize));
        return plan;
    }
    // Per store, in rounds: a location, two name links, three stock lines, one invoice (+4 lines).
    let round: [(&str, u64); 4] = [("Location", 1), ("name_store_join", 1), ("item_line", 1), ("invoice", 5)];
    'fill: loop {
        for store in stores {
            for (kind, cost) in round {
                for _ in 0..if kind == "item_line" {
                    3
                } else if kind == "name_store_join" {
                    2
                } else {
                    1
                } {
                    if left == 0 {
                        break 'fill;
                    }
                    let kind = if cost > left { "item_line" } else { kind };
                    left -= if kind == "invoice" { cost } else { 1 };
                    plan.push((kind, Some(store.clone())));
                }
            }
        }
    }
    plan
}

fn short_id(rng: &mut SmallRng) -> String {
    format!("{:08x}", rng.random::<u32>())
}

struct Generator {
    rng: SmallRng,
    run: String,
    units: Vec<String>,
    items: Vec<(String, String)>,
    names: Vec<String>,
    counter: u64,
}

const ITEM_WORDS: [&str; 12] = [
    "Amoxicillin",
    "Paracetamol",
    "Ibuprofen",
    "Metformin",
    "Oral rehydration salts",
    "Zinc sulfate",
    "Gauze",
    "Syringe",
    "Cotrimoxazole",
    "Artemether",
    "Measles vaccine",
    "Gloves",
];
const FORMS: [&str; 6] = ["250mg tablet", "500mg tablet", "sachet", "5ml vial", "box of 100", "10cm roll"];
const PLACES: [&str; 8] = ["Ahuriri", "Bembe", "Caxito", "Dondo", "Ekuku", "Falelima", "Gizo", "Honiara"];

impl Generator {
    fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}_{}", self.run, self.counter)
    }

    fn date(&mut self, year: i32) -> String {
        format!("{year}-{:02}-{:02}", self.rng.random_range(1..=12), self.rng.random_range(1..=28))
    }

    fn make(&mut self, kind: &str, store: Option<&str>) -> Vec<(&'static str, Value)> {
        let store = store.unwrap_or_default();
        match kind {
            "unit" => {
                let id = self.id("unit");
                self.units.push(id.clone());
                let unit = ["Tab", "Cap", "Bottle", "Vial", "Sachet", "Each"][self.units.len() % 6];
                vec![("unit", json!({"ID": id, "units": unit, "comment": "", "order_number": self.units.len()}))]
            }
            "item" => {
                let id = self.id("item");
                let name = format!(
                    "{} {}",
                    ITEM_WORDS[self.rng.random_range(0..ITEM_WORDS.len())],
                    FORMS[self.rng.random_range(0..FORMS.len())]
                );
                let unit =
                    self.units.get(self.rng.random_range(0..self.units.len().max(1))).cloned().unwrap_or_default();
                self.items.push((id.clone(), name.clone()));
                let code = format!("I{}", self.counter);
                let pack_size = [1, 10, 100][self.rng.random_range(0..3)];
                vec![(
                    "item",
                    json!({"ID": id, "item_name": name, "code": code, "unit_ID": unit, "type_of": "general",
                    "default_pack_size": pack_size, "is_vaccine": false, "volume_per_pack": 0,
                    "strength": "", "ddd_value": "", "atc_category": "", "catalogue_code": "", "flags": "", "notes": ""}),
                )]
            }
            "name" | "spare_store" => {
                let id = self.id("name");
                let place = PLACES[self.rng.random_range(0..PLACES.len())];
                let facility = kind == "spare_store" || self.rng.random_bool(0.5);
                let name = if facility {
                    format!("{place} clinic {}", self.counter)
                } else {
                    format!("Patient {}", self.counter)
                };
                self.names.push(id.clone());
                let mut out = vec![(
                    "name",
                    json!({"ID": id, "name": name, "code": format!("N{}", self.counter),
                    "type": if facility { "facility" } else { "patient" }, "customer": true, "supplier": facility,
                    "manufacturer": false, "isDeleted": false, "phone": "", "email": "", "country": "", "comment": ""}),
                )];
                if kind == "spare_store" {
                    let store_id = self.id("store");
                    out.push((
                        "store",
                        json!({"ID": store_id, "name": name, "code": format!("S{}", self.counter), "name_ID": id,
                        "sync_id_remote_site": 0, "store_mode": "store", "disabled": false, "tags": ""}),
                    ));
                }
                out
            }
            "Location" => {
                let id = self.id("loc");
                vec![(
                    "Location",
                    // Codes are unique within a store, as people keep them (the counter never repeats).
                    json!({"ID": id, "code": format!("Shelf.{:04}", self.counter), "Description": "Shelf",
                    "Comment": "", "Volume": 0, "type_ID": "", "object_type": "", "parent_id": "", "Colour": "",
                    "bottom_y_coordinate": 0, "summary_only": false, "store_ID": store, "priority": 0, "hold": false,
                    "replenishment_type": "", "asset_ID": ""}),
                )]
            }
            "name_store_join" => {
                let id = self.id("nsj");
                let name = self.pick_name();
                vec![(
                    "name_store_join",
                    json!({"ID": id, "name_ID": name, "store_ID": store, "inactive": false,
                    "spare_Category_ID": 0, "spare_Category_optional2_id": 0, "spare_Category_optional_id": 0}),
                )]
            }
            "item_line" => vec![("item_line", self.stock_line(store))],
            _ => self.invoice(store),
        }
    }

    fn pick_name(&mut self) -> String {
        self.names.get(self.rng.random_range(0..self.names.len().max(1))).cloned().unwrap_or_default()
    }

    fn pick_item(&mut self) -> (String, String) {
        self.items.get(self.rng.random_range(0..self.items.len().max(1))).cloned().unwrap_or_default()
    }

    fn stock_line(&mut self, store: &str) -> Value {
        let id = self.id("line");
        let (item, _) = self.pick_item();
        let quantity = self.rng.random_range(0..2000);
        let expiry = self.date(2027);
        json!({"ID": id, "item_ID": item, "store_ID": store, "batch": format!("B{}", self.counter), "expiry_date": expiry,
            "pack_size": 1, "quantity": quantity, "available": quantity, "stock_on_hand_tot": quantity,
            "cost_price": self.rng.random_range(1..50), "sell_price": self.rng.random_range(50..100), "hold": false,
            "location_ID": "", "name_ID": "", "note": "", "donor_id": "", "barcodeID": "", "total_volume": 0})
    }

    fn invoice(&mut self, store: &str) -> Vec<(&'static str, Value)> {
        let id = self.id("inv");
        let supplying = self.rng.random_bool(0.6);
        let date = self.date(2025);
        let name = self.pick_name();
        let mut out = vec![(
            "transact",
            json!({"ID": id, "store_ID": store, "name_ID": name,
            "type": if supplying { "ci" } else { "si" }, "status": "fn", "invoice_num": self.counter,
            "entry_date": date, "confirm_date": date, "comment": "", "their_ref": "", "mode": "store", "total": 0,
            "Colour": 0, "currency_ID": "", "currency_rate": 1}),
        )];
        for line_number in 1..=4 {
            let line_id = self.id("tl");
            let (item, item_name) = self.pick_item();
            let quantity = self.rng.random_range(1..200);
            let expiry = self.date(2027);
            out.push(("trans_line", json!({"ID": line_id, "transaction_ID": id, "item_ID": item, "item_name": item_name,
                "item_line_ID": "", "batch": "", "expiry_date": expiry, "pack_size": 1, "quantity": quantity,
                "cost_price": self.rng.random_range(1..50), "sell_price": self.rng.random_range(50..100),
                "line_number": line_number, "location_ID": "", "note": "", "type": if supplying { "stock_out" } else { "stock_in" }})));
        }
        out
    }
}
