//! The synced tables and their names on each wire. One enum so that the engine, the
//! translators and the changelog agree on spelling, dependency order and push routing.

/// A table the site synchronises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Unit,
    Item,
    Name,
    Store,
    NameStoreJoin,
    Location,
    StockLine,
    Invoice,
    InvoiceLine,
    Asset,
}

/// The two centrals a site talks to: which one's shape a received record has (V5 legacy JSON
/// or a V6 snake_case row), and where a local change is pushed. The domain's one name for the
/// protocol; the buffer stores it as `v5`/`v6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Central {
    V5,
    V6,
}

impl Table {
    /// Integration (dependency) order: every table comes after the tables its rows refer to,
    /// so upserts run forwards through this list and deletes backwards (reference §8).
    pub const ALL: [Table; 10] = [
        Table::Unit,
        Table::Item,
        Table::Name,
        Table::Store,
        Table::NameStoreJoin,
        Table::Location,
        Table::StockLine,
        Table::Invoice,
        Table::InvoiceLine,
        Table::Asset,
    ];

    /// The site table's name, also used as `changelog.table_name`.
    pub fn name(self) -> &'static str {
        match self {
            Table::Unit => "unit",
            Table::Item => "item",
            Table::Name => "name",
            Table::Store => "store",
            Table::NameStoreJoin => "name_store_join",
            Table::Location => "location",
            Table::StockLine => "stock_line",
            Table::Invoice => "invoice",
            Table::InvoiceLine => "invoice_line",
            Table::Asset => "asset",
        }
    }

    pub fn from_name(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The legacy table name the V5 central uses (case matters: `Location`).
    pub fn v5_name(self) -> Option<&'static str> {
        Some(match self {
            Table::Unit => "unit",
            Table::Item => "item",
            Table::Name => "name",
            Table::Store => "store",
            Table::NameStoreJoin => "name_store_join",
            Table::Location => "Location",
            Table::StockLine => "item_line",
            Table::Invoice => "transact",
            Table::InvoiceLine => "trans_line",
            Table::Asset => return None,
        })
    }

    pub fn from_v5_name(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.v5_name() == Some(s))
    }

    /// The table name on the V6 wire; only the asset travels there.
    pub fn v6_name(self) -> Option<&'static str> {
        match self {
            Table::Asset => Some("asset"),
            _ => None,
        }
    }

    pub fn from_v6_name(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.v6_name() == Some(s))
    }

    /// Where a local change of this table is sent. Both push steps walk the same changelog;
    /// each sends only the rows routed to it (reference §2.5, "processed twice, sent once").
    pub fn push_destination(self) -> Option<Central> {
        match self {
            Table::Location | Table::StockLine | Table::Invoice | Table::InvoiceLine => Some(Central::V5),
            Table::Asset => Some(Central::V6),
            Table::Unit | Table::Item | Table::Name | Table::Store | Table::NameStoreJoin => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_back_to_its_table() {
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
            if let Some(v5) = t.v5_name() {
                assert_eq!(Table::from_v5_name(v5), Some(t));
            }
            if let Some(v6) = t.v6_name() {
                assert_eq!(Table::from_v6_name(v6), Some(t));
            }
            assert!(t.v5_name().is_some() || t.v6_name().is_some(), "{t:?} travels nowhere");
        }
        assert_eq!(Table::from_v5_name("location"), None, "the legacy name is capitalised");
        assert_eq!(Table::from_v5_name("Location_type"), None);
    }

    #[test]
    fn only_site_owned_tables_are_pushed_and_each_to_one_central() {
        let v5: Vec<_> = Table::ALL.into_iter().filter(|t| t.push_destination() == Some(Central::V5)).collect();
        let v6: Vec<_> = Table::ALL.into_iter().filter(|t| t.push_destination() == Some(Central::V6)).collect();
        assert_eq!(v5, [Table::Location, Table::StockLine, Table::Invoice, Table::InvoiceLine]);
        assert_eq!(v6, [Table::Asset]);
    }
}
