//! The generator: each table's record made with its full field set and varied values from a
//! seeded RNG (the module above says why realistic, and in what mix).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::fields;
use super::words::*;

pub(super) struct Generator {
    rng: SmallRng,
    counter: u64,
    templates: Templates,
    units: Vec<String>,
    /// Id, name, code of each item.
    items: Vec<(String, String, String)>,
    names: Vec<String>,
    /// Locations of each store, by store id.
    locations: std::collections::HashMap<String, Vec<String>>,
    /// A few ids shared by many records, as in a real central: accounts, categories, users.
    accounts: [String; 3],
    categories: Vec<String>,
    location_types: Vec<String>,
    users: Vec<String>,
}

/// Each table's field set, parsed once.
struct Templates {
    unit: Map<String, Value>,
    item: Map<String, Value>,
    name: Map<String, Value>,
    store: Map<String, Value>,
    location: Map<String, Value>,
    name_store_join: Map<String, Value>,
    item_line: Map<String, Value>,
    transact: Map<String, Value>,
    trans_line: Map<String, Value>,
}

fn template(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).expect("the seed's field templates are valid JSON")
}

/// Money as people write it: two decimals.
fn money(x: f64) -> Value {
    json!((x * 100.0).round() / 100.0)
}

impl Generator {
    pub(super) fn new(seed: u64) -> Generator {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut hex = || format!("{:032X}", rng.random::<u128>());
        let accounts = [hex(), hex(), hex()];
        let categories = (0..24).map(|_| hex()).collect();
        let location_types = (0..4).map(|_| hex()).collect();
        let users = (0..12).map(|_| hex()).collect();
        Generator {
            rng,
            counter: 0,
            templates: Templates {
                unit: template(fields::UNIT),
                item: template(fields::ITEM),
                name: template(fields::NAME),
                store: template(fields::STORE),
                location: template(fields::LOCATION),
                name_store_join: template(fields::NAME_STORE_JOIN),
                item_line: template(fields::ITEM_LINE),
                transact: template(fields::TRANSACT),
                trans_line: template(fields::TRANS_LINE),
            },
            units: vec![],
            items: vec![],
            names: vec![],
            locations: Default::default(),
            accounts,
            categories,
            location_types,
            users,
        }
    }

    /// A 4D id: 32 hex digits.
    fn id(&mut self) -> String {
        self.counter += 1;
        format!("{:032X}", self.rng.random::<u128>())
    }

    fn pick<'a>(&mut self, list: &'a [&'a str]) -> &'a str {
        list[self.rng.random_range(0..list.len())]
    }

    /// One of `list` (a field of this generator), cloned; empty when there is none yet.
    fn pick_of(&mut self, list: fn(&Generator) -> &Vec<String>) -> String {
        let n = list(self).len();
        if n == 0 {
            return String::new();
        }
        let i = self.rng.random_range(0..n);
        list(self)[i].clone()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn date(&mut self, from_year: i32, years: i32) -> String {
        format!(
            "{}-{:02}-{:02}",
            from_year + self.rng.random_range(0..years.max(1)),
            self.rng.random_range(1..=12),
            self.rng.random_range(1..=28)
        )
    }

    fn time_of_day(&mut self) -> u32 {
        self.rng.random_range(7 * 3600..18 * 3600)
    }

    fn datetime(&mut self, date: &str, seconds: u32) -> String {
        format!("{date}T{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }

    /// One or two sentences, sometimes with a number or a name in them.
    fn note(&mut self) -> String {
        let mut note = self.pick(NOTES).to_owned();
        match self.rng.random_range(0..4) {
            0 => note = format!("{note}. {}", self.pick(NOTES).to_lowercase()),
            1 => note = format!("{note} ({} {})", self.pick(FIRST_NAMES), self.rng.random_range(1..400)),
            2 => note = format!("{note}, ref {}", self.rng.random_range(1000..99999)),
            _ => {}
        }
        note
    }

    fn batch(&mut self) -> String {
        let letters: String =
            (0..self.rng.random_range(1..4)).map(|_| self.rng.random_range(b'A'..=b'Z') as char).collect();
        format!("{letters}{}", self.rng.random_range(1000..9_999_999))
    }

    fn phone(&mut self) -> String {
        format!(
            "+{} {} {}",
            self.rng.random_range(670..700),
            self.rng.random_range(20..99),
            self.rng.random_range(10000..99999)
        )
    }

    pub(super) fn make(&mut self, kind: &str, store: Option<&str>) -> Vec<(&'static str, Value)> {
        let store = store.unwrap_or_default();
        match kind {
            "unit" => vec![("unit", self.unit())],
            "item" => vec![("item", self.item())],
            "name" => vec![("name", self.name(false).1)],
            "spare_store" => {
                let (id, name, label) = self.name(true);
                vec![("name", name), ("store", self.store(&id, &label))]
            }
            "Location" => vec![("Location", self.location(store))],
            "name_store_join" => {
                let mut r = self.templates.name_store_join.clone();
                r.insert("ID".into(), json!(self.id()));
                r.insert("name_ID".into(), json!(self.pick_of(|g| &g.names)));
                r.insert("store_ID".into(), json!(store));
                r.insert("inactive".into(), json!(self.chance(0.05)));
                vec![("name_store_join", Value::Object(r))]
            }
            "item_line" => vec![("item_line", self.stock_line(store))],
            _ => self.invoice(store),
        }
    }

    fn unit(&mut self) -> Value {
        let id = self.id();
        let unit = UNITS[self.units.len() % UNITS.len()];
        let mut r = self.templates.unit.clone();
        r.insert("ID".into(), json!(id));
        r.insert("units".into(), json!(unit));
        if self.chance(0.4) {
            r.insert("comment".into(), json!(format!("{unit}, {}", self.pick(FORMS))));
        }
        r.insert("order_number".into(), json!(self.units.len()));
        self.units.push(id);
        Value::Object(r)
    }

    fn item(&mut self) -> Value {
        let id = self.id();
        let medicine = self.chance(0.75);
        let name = if medicine {
            format!("{} {} {}", self.pick(MEDICINES), self.pick(STRENGTHS), self.pick(FORMS))
        } else {
            format!("{} {}", self.pick(CONSUMABLES), self.pick(SIZES))
        };
        let code = format!(
            "{}{:05}",
            name.chars().filter(|c| c.is_ascii_alphabetic()).take(3).collect::<String>().to_uppercase(),
            self.counter
        );
        let unit = self.pick_of(|g| &g.units);
        let mut r = self.templates.item.clone();
        let vaccine = name.contains("vaccine") || name.contains("toxoid");
        let pack = [1, 1, 10, 20, 28, 30, 50, 100, 500, 1000][self.rng.random_range(0..10)];
        r.insert("ID".into(), json!(id));
        r.insert("item_name".into(), json!(name));
        r.insert("code".into(), json!(code));
        r.insert("unit_ID".into(), json!(unit));
        r.insert("type_of".into(), json!(if self.chance(0.03) { "non_stock" } else { "general" }));
        r.insert("default_pack_size".into(), json!(pack));
        r.insert("is_vaccine".into(), json!(vaccine));
        r.insert("doses".into(), json!(if vaccine { self.rng.random_range(1..20) } else { 0 }));
        r.insert("account_stock_ID".into(), json!(self.accounts[0]));
        r.insert("account_purchases_ID".into(), json!(self.accounts[1]));
        r.insert("account_income_ID".into(), json!(self.accounts[2]));
        r.insert("category_ID".into(), json!(self.pick_of(|g| &g.categories)));
        r.insert("VEN_category".into(), json!(self.pick(&["V", "E", "N", ""])));
        r.insert("ABC_category".into(), json!(self.pick(&["A", "B", "C", ""])));
        if self.chance(0.5) {
            r.insert("buy_price".into(), money(self.rng.random_range(0.05..80.0)));
        }
        r.insert("margin".into(), json!(self.pick(&["0", "10", "15", "20", "25"]).parse::<u32>().unwrap_or(0)));
        r.insert("normal_stock".into(), json!(self.chance(0.8)));
        r.insert("critical_stock".into(), json!(self.chance(0.1)));
        r.insert("essential_drug_list".into(), json!(medicine && self.chance(0.6)));
        if self.chance(0.3) {
            r.insert("universalcodes_code".into(), json!(format!("{:09x}", self.rng.random::<u64>() & 0xF_FFFF_FFFF)));
        }
        if medicine {
            let atc = format!(
                "{}{:02}{}{}{:02}",
                self.pick(&["A", "B", "C", "D", "G", "J", "M", "N", "P", "R", "S"]),
                self.rng.random_range(1..20),
                self.rng.random_range(b'A'..=b'X') as char,
                self.rng.random_range(b'A'..=b'X') as char,
                self.rng.random_range(1..30)
            );
            r.insert("atc_category".into(), json!(atc));
            r.insert("strength".into(), json!(self.pick(STRENGTHS)));
            if self.chance(0.3) {
                r.insert("instructions".into(), json!(self.pick(DIRECTIONS)));
            }
        }
        if self.chance(0.15) {
            r.insert("description".into(), json!(self.note()));
        }
        if self.chance(0.2) {
            r.insert("other_names".into(), json!(format!("{} {}", self.pick(MEDICINES), self.pick(FORMS))));
        }
        if vaccine {
            r.insert("volume_per_pack".into(), money(self.rng.random_range(0.0..0.5)));
        }
        if vaccine {
            r.insert("restricted_location_type_ID".into(), json!(self.pick_of(|g| &g.location_types)));
        }
        self.items.push((id, name, code));
        Value::Object(r)
    }

    /// A patient or a facility; returns its id, its record and its display name.
    fn name(&mut self, facility: bool) -> (String, Value, String) {
        let id = self.id();
        let facility = facility || self.chance(0.3);
        let place = self.pick(PLACES);
        let mut r = self.templates.name.clone();
        let (label, code) = if facility {
            let label = format!("{place} {}", self.pick(FACILITY_KINDS));
            let code = format!("{}{:04}", &place[..3.min(place.len())].to_uppercase(), self.counter % 10_000);
            r.insert("latitude".into(), json!(self.rng.random_range(-25.0..5.0_f64)));
            r.insert("longitude".into(), json!(self.rng.random_range(140.0..185.0_f64)));
            r.insert("currency_ID".into(), json!(self.pick(&["", "NEW_ZEALAND_DOLLARS", "FIJI_DOLLARS"])));
            r.insert("charge code".into(), json!(code));
            (label, code)
        } else {
            let (first, last) = (self.pick(FIRST_NAMES), self.pick(LAST_NAMES));
            r.insert("first".into(), json!(first));
            r.insert("last".into(), json!(last));
            let female = self.chance(0.55);
            r.insert("female".into(), json!(female));
            r.insert("om_gender".into(), json!(if female { "FEMALE" } else { "MALE" }));
            let born = self.date(1940, 85);
            r.insert("date_of_birth".into(), json!(born));
            r.insert("national_health_number".into(), json!(format!("NHN{:07}", self.rng.random_range(0..10_000_000))));
            let code = format!(
                "{}{}{}",
                &last[..2.min(last.len())].to_uppercase(),
                &first[..1].to_uppercase(),
                born.replace('-', "")
            );
            (format!("{last}, {first}"), code)
        };
        r.insert("ID".into(), json!(id));
        r.insert("name".into(), json!(label));
        r.insert("code".into(), json!(code));
        r.insert("type".into(), json!(if facility { "facility" } else { "patient" }));
        r.insert("customer".into(), json!(true));
        r.insert("supplier".into(), json!(facility && self.chance(0.5)));
        if self.chance(0.7) {
            r.insert("phone".into(), json!(self.phone()));
        }
        if self.chance(0.6) {
            r.insert(
                "bill_address1".into(),
                json!(format!("{} {} {}", self.rng.random_range(1..400), self.pick(STREETS), self.pick(STREET_KINDS))),
            );
            r.insert("bill_address2".into(), json!(place));
        }
        if facility && self.chance(0.5) {
            let mail = label.to_lowercase().replace(' ', ".");
            r.insert("email".into(), json!(format!("{mail}@health.example")));
        }
        if self.chance(0.15) {
            r.insert("comment".into(), json!(self.note()));
        }
        let created = self.date(2018, 8);
        let seconds = self.time_of_day();
        r.insert("om_created_datetime".into(), json!(self.datetime(&created, seconds)));
        r.insert("created_date".into(), json!(created));
        self.names.push(id.clone());
        (id, Value::Object(r), label)
    }

    fn store(&mut self, name_id: &str, label: &str) -> Value {
        let mut r = self.templates.store.clone();
        r.insert("ID".into(), json!(self.id()));
        r.insert("name".into(), json!(label));
        r.insert("code".into(), json!(format!("S{:05}", self.counter)));
        r.insert("name_ID".into(), json!(name_id));
        r.insert("store_mode".into(), json!(if self.chance(0.2) { "dispensary" } else { "store" }));
        r.insert(
            "address_1".into(),
            json!(format!("{} {} {}", self.rng.random_range(1..400), self.pick(STREETS), self.pick(STREET_KINDS))),
        );
        r.insert("address_2".into(), json!(self.pick(PLACES)));
        r.insert("tags".into(), json!(self.pick(&["", "program1", "hub", "rural", "program1 rural"])));
        r.insert("created_date".into(), json!(self.date(2015, 10)));
        Value::Object(r)
    }

    fn location(&mut self, store: &str) -> Value {
        let id = self.id();
        let (colour, kind) = (self.pick(COLOURS), self.pick(LOCATION_KINDS));
        let mut r = self.templates.location.clone();
        r.insert("ID".into(), json!(id));
        // Codes are unique within a store, as people keep them (the counter never repeats).
        r.insert("code".into(), json!(format!("{colour}.{:04}", self.counter)));
        r.insert("Description".into(), json!(format!("{kind} {colour} {}", self.rng.random_range(1..40))));
        r.insert("Volume".into(), money(self.rng.random_range(0.0..20.0)));
        if kind == "Fridge" || kind == "Freezer" {
            r.insert("type_ID".into(), json!(self.pick_of(|g| &g.location_types)));
        }
        r.insert("store_ID".into(), json!(store));
        self.locations.entry(store.to_owned()).or_default().push(id);
        Value::Object(r)
    }

    fn pick_name(&mut self) -> String {
        self.pick_of(|g| &g.names)
    }

    fn pick_item(&mut self) -> (String, String, String) {
        if self.items.is_empty() {
            return Default::default();
        }
        self.items[self.rng.random_range(0..self.items.len())].clone()
    }

    fn pick_location(&mut self, store: &str) -> String {
        let n = self.locations.get(store).map_or(0, Vec::len);
        if n == 0 || self.chance(0.7) {
            return String::new();
        }
        self.locations[store][self.rng.random_range(0..n)].clone()
    }

    fn stock_line(&mut self, store: &str) -> Value {
        let id = self.id();
        let (item, _, _) = self.pick_item();
        let pack_size = [1, 1, 1, 10, 100][self.rng.random_range(0..5)];
        let quantity = self.rng.random_range(0..2000);
        let cost = self.rng.random_range(0.02..60.0);
        let mut r = self.templates.item_line.clone();
        r.insert("ID".into(), json!(id));
        r.insert("item_ID".into(), json!(item));
        r.insert("store_ID".into(), json!(store));
        r.insert("batch".into(), json!(self.batch()));
        r.insert("expiry_date".into(), json!(self.date(2026, 4)));
        r.insert("pack_size".into(), json!(pack_size));
        r.insert("quantity".into(), json!(quantity));
        r.insert("available".into(), json!(quantity));
        r.insert("stock_on_hand_tot".into(), json!(quantity * pack_size));
        r.insert("initial_quan".into(), json!(quantity));
        r.insert("cost_price".into(), money(cost));
        if self.chance(0.4) {
            r.insert("sell_price".into(), money(cost * 1.2));
        }
        r.insert("location_ID".into(), json!(self.pick_location(store)));
        r.insert("donor_id".into(), json!(self.pick(DONORS)));
        if self.chance(0.1) {
            r.insert("note".into(), json!(self.note()));
        }
        if self.chance(0.1) {
            let supplier = self.pick_name();
            r.insert("name_ID".into(), json!(supplier));
        }
        Value::Object(r)
    }

    fn invoice(&mut self, store: &str) -> Vec<(&'static str, Value)> {
        let id = self.id();
        let supplying = self.chance(0.6);
        let date = self.date(2023, 3);
        let time = self.time_of_day();
        let name = self.pick_name();
        let (currency, rate) = CURRENCIES[self.rng.random_range(0..CURRENCIES.len())];
        let mut lines = Vec::new();
        let mut subtotal = 0.0;
        for line_number in 1..=4 {
            let (item, item_name, item_code) = self.pick_item();
            let quantity = self.rng.random_range(1..200);
            let cost = self.rng.random_range(0.02..60.0);
            let sell = cost * self.rng.random_range(1.0..1.6);
            let price = if supplying { sell } else { cost };
            let extension = price * f64::from(quantity);
            subtotal += extension;
            let mut l = self.templates.trans_line.clone();
            l.insert("ID".into(), json!(self.id()));
            l.insert("transaction_ID".into(), json!(id));
            l.insert("item_ID".into(), json!(item));
            l.insert("item_name".into(), json!(item_name));
            l.insert("om_item_code".into(), json!(item_code));
            if self.chance(0.5) {
                l.insert("batch".into(), json!(self.batch()));
                l.insert("expiry_date".into(), json!(self.date(2026, 4)));
            }
            l.insert("pack_size".into(), json!(1));
            l.insert("quantity".into(), json!(quantity));
            l.insert(if supplying { "sell_price" } else { "cost_price" }.into(), money(price));
            l.insert("foreign_currency_price".into(), money(price));
            l.insert("price_extension".into(), money(extension));
            l.insert("om_total_before_tax".into(), money(extension));
            l.insert("om_total_after_tax".into(), money(extension));
            l.insert("line_number".into(), json!(line_number));
            if self.chance(0.2) {
                l.insert("location_ID".into(), json!(self.pick_location(store)));
                l.insert("donor_id".into(), json!(self.pick(DONORS)));
            }
            l.insert("type".into(), json!(if supplying { "stock_out" } else { "stock_in" }));
            if self.chance(0.1) {
                l.insert("note".into(), json!(self.note()));
            }
            lines.push(("trans_line", Value::Object(l)));
        }
        let mut r = self.templates.transact.clone();
        r.insert("ID".into(), json!(id));
        r.insert("store_ID".into(), json!(store));
        r.insert("name_ID".into(), json!(name));
        r.insert("type".into(), json!(if supplying { "ci" } else { "si" }));
        r.insert("status".into(), json!(self.pick(&["fn", "fn", "fn", "cn", "nw", "sg"])));
        r.insert("mode".into(), json!(if self.chance(0.15) { "dispensary" } else { "store" }));
        r.insert("invoice_num".into(), json!(self.counter));
        r.insert("entry_date".into(), json!(date));
        r.insert("entry_time".into(), json!(time));
        r.insert("confirm_date".into(), json!(date));
        r.insert("confirm_time".into(), json!(time));
        r.insert("Date_order_written".into(), json!(date));
        r.insert("arrival_date_estimated".into(), json!(date));
        r.insert("lastModifiedAt".into(), json!(1_672_531_200 + self.rng.random_range(0..94_000_000)));
        r.insert("currency_ID".into(), json!(currency));
        r.insert("currency_rate".into(), json!(rate));
        r.insert("subtotal".into(), money(subtotal));
        r.insert("total".into(), money(subtotal));
        if self.chance(0.5) {
            r.insert("user_ID".into(), json!(self.pick_of(|g| &g.users)));
        }
        r.insert("om_created_datetime".into(), json!(self.datetime(&date, time)));
        if self.chance(0.5) {
            r.insert(
                "their_ref".into(),
                json!(format!("{}-{}", self.pick(&["PO", "REQ", "INV", "DN"]), self.rng.random_range(100..99_999))),
            );
        }
        if self.chance(0.35) {
            r.insert("comment".into(), json!(self.note()));
        }
        if supplying && self.chance(0.4) {
            r.insert("ship_date".into(), json!(date));
            r.insert("waybill_number".into(), json!(format!("WB{}", self.rng.random_range(10_000..999_999))));
            r.insert("number_of_cartons".into(), json!(self.rng.random_range(1..30)));
        }
        let mut out = vec![("transact", Value::Object(r))];
        out.extend(lines);
        out
    }
}
