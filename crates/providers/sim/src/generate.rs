//! Generating records from (seed, index, version).
//!
//! Two draws feed each record: a *stable* one from (seed, index), for what an article keeps
//! for life (number, family, GTIN, list price), and a *versioned* one from
//! (seed, index, version), for what a change may alter (name wording, colour, weight...).
//! Nothing is cached: a record costs a few microseconds to build and the catalog never
//! sits in memory.

use chrono::{DateTime, Utc};
use erpbridge_model::{
    Article, ArticleId, ArticleReference, Attribute, Category, CategoryId, Customer, CustomerId,
    Image, LocalizedText, QuantityBreak, ReferenceKind, WarehouseId,
};
use rust_decimal::Decimal;
use std::fmt::Write as _;

use crate::rng::{Draw, hash};
use crate::words::*;

// Salts keep the draws of different kinds of data independent.
const SALT_ARTICLE: u64 = 0xA7;
const SALT_ARTICLE_VERSION: u64 = 0xA8;
const SALT_CUSTOMER: u64 = 0xC5;
const SALT_CUSTOMER_VERSION: u64 = 0xC6;
const SALT_PRICE: u64 = 0x9E;
const SALT_STOCK: u64 = 0x57;

/// 2026-01-01T00:00:00Z: tick 0 of the simulated clock; one tick is one hour of ERP time.
const EPOCH_SECS: i64 = 1_767_225_600;

/// The sizes and seed the generators need (a copy of the relevant part of the config).
#[derive(Debug, Clone, Copy)]
pub struct Generator {
    pub seed: u64,
    pub initial_articles: u64,
    pub attributes_per_article: u32,
    pub categories: u32,
    pub customers: u32,
    pub warehouses: u32,
}

pub fn article_id(index: u64) -> ArticleId {
    ArticleId(format!("A{:08}", index + 1))
}

pub fn category_id(index: u64) -> CategoryId {
    CategoryId(format!("CAT{:04}", index + 1))
}

pub fn customer_id(index: u64) -> CustomerId {
    CustomerId(format!("C{:07}", index + 1))
}

pub fn warehouse_id(index: u32) -> WarehouseId {
    WarehouseId(format!("W{}", index + 1))
}

fn parse_index(id: &str, prefix: &str, digits: usize) -> Option<u64> {
    let rest = id.strip_prefix(prefix)?;
    if rest.len() != digits || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse::<u64>().ok()?.checked_sub(1)
}

pub fn parse_article_id(id: &str) -> Option<u64> {
    parse_index(id, "A", 8)
}

pub fn parse_category_id(id: &str) -> Option<u64> {
    parse_index(id, "CAT", 4)
}

pub fn parse_customer_id(id: &str) -> Option<u64> {
    parse_index(id, "C", 7)
}

pub fn parse_warehouse_id(id: &str, warehouses: u32) -> Option<u32> {
    let n: u32 = id.strip_prefix('W')?.parse().ok()?;
    (1..=warehouses).contains(&n).then_some(n - 1)
}

pub fn timestamp(tick: u32, jitter: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(EPOCH_SECS + tick as i64 * 3600 + (jitter % 3600) as i64, 0)
}

fn texts(de: String, en: String) -> LocalizedText {
    let mut map = LocalizedText::new();
    map.insert("de".to_owned(), de);
    map.insert("en".to_owned(), en);
    map
}

/// The check digit of an EAN-13 over its first 12 digits.
fn gtin13(body: u64) -> String {
    let body = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| (b - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    let check = (10 - sum % 10) % 10;
    format!("{body}{check}")
}

struct Slot {
    key: &'static str,
    kind: SlotKind,
    unit: Option<&'static str>,
}

enum SlotKind {
    Localized(&'static [(&'static str, &'static str)], bool),
    Number { min: u64, max: u64, decimals: u32 },
    Pick(&'static [&'static str]),
    Maker,
    MakerNumber,
    Tariff,
    Eclass,
}

/// The attribute slots in the order an article fills them: the first N are used. German
/// and English values of a feature are two slots (and two attributes), as ERPs store them.
const SLOTS: &[Slot] = &[
    slot("material", SlotKind::Localized(MATERIALS, false), None),
    slot("material", SlotKind::Localized(MATERIALS, true), None),
    slot("color", SlotKind::Localized(COLORS, false), None),
    slot("color", SlotKind::Localized(COLORS, true), None),
    slot(
        "length",
        SlotKind::Number {
            min: 5,
            max: 2000,
            decimals: 0,
        },
        Some("mm"),
    ),
    slot(
        "width",
        SlotKind::Number {
            min: 5,
            max: 800,
            decimals: 0,
        },
        Some("mm"),
    ),
    slot(
        "height",
        SlotKind::Number {
            min: 2,
            max: 600,
            decimals: 0,
        },
        Some("mm"),
    ),
    slot(
        "weight",
        SlotKind::Number {
            min: 1,
            max: 250_000,
            decimals: 3,
        },
        Some("kg"),
    ),
    slot("manufacturer", SlotKind::Maker, None),
    slot("manufacturer_number", SlotKind::MakerNumber, None),
    slot("country_of_origin", SlotKind::Pick(COUNTRIES), None),
    slot("customs_tariff", SlotKind::Tariff, None),
    slot("surface", SlotKind::Localized(SURFACES, false), None),
    slot("surface", SlotKind::Localized(SURFACES, true), None),
    slot(
        "diameter",
        SlotKind::Number {
            min: 10,
            max: 5000,
            decimals: 1,
        },
        Some("mm"),
    ),
    slot(
        "package_quantity",
        SlotKind::Number {
            min: 1,
            max: 500,
            decimals: 0,
        },
        Some("PCE"),
    ),
    slot("eclass", SlotKind::Eclass, None),
    slot(
        "warranty",
        SlotKind::Number {
            min: 6,
            max: 60,
            decimals: 0,
        },
        Some("month"),
    ),
    slot(
        "application",
        SlotKind::Localized(APPLICATIONS, false),
        None,
    ),
    slot("application", SlotKind::Localized(APPLICATIONS, true), None),
    slot(
        "voltage",
        SlotKind::Number {
            min: 3,
            max: 400,
            decimals: 0,
        },
        Some("V"),
    ),
    slot(
        "power",
        SlotKind::Number {
            min: 1,
            max: 3000,
            decimals: 0,
        },
        Some("W"),
    ),
    slot("ip_rating", SlotKind::Pick(IP_RATINGS), None),
    slot(
        "temperature_max",
        SlotKind::Number {
            min: 40,
            max: 400,
            decimals: 0,
        },
        Some("°C"),
    ),
    slot(
        "pressure_max",
        SlotKind::Number {
            min: 1,
            max: 400,
            decimals: 1,
        },
        Some("bar"),
    ),
    slot("norm", SlotKind::Pick(NORMS), None),
    slot("packaging", SlotKind::Localized(PACKAGINGS, false), None),
    slot("packaging", SlotKind::Localized(PACKAGINGS, true), None),
];

const fn slot(key: &'static str, kind: SlotKind, unit: Option<&'static str>) -> Slot {
    Slot { key, kind, unit }
}

fn number(draw: &mut Draw, min: u64, max: u64, decimals: u32) -> String {
    let raw = min + draw.below(max - min + 1);
    if decimals == 0 {
        return raw.to_string();
    }
    // Integer formatting: `Decimal`'s Display is several times slower, and this is the
    // hottest string of a 30-million-attribute stream.
    let scale = 10u64.pow(decimals);
    format!(
        "{}.{:0width$}",
        raw / scale,
        raw % scale,
        width = decimals as usize
    )
}

impl Generator {
    /// The family (category root) of a category index.
    fn roots(&self) -> u64 {
        (self.categories as u64).min(FAMILIES.len() as u64)
    }

    fn family_of_category(&self, index: u64) -> usize {
        let roots = self.roots();
        if index < roots {
            index as usize
        } else {
            ((index - roots) % roots) as usize
        }
    }

    /// The leaf category an article lives in (leaves are the non-roots, unless the tree
    /// is only roots).
    fn article_category(&self, stable: &mut Draw) -> u64 {
        let roots = self.roots();
        let total = self.categories as u64;
        if total > roots {
            roots + stable.below(total - roots)
        } else {
            stable.below(total)
        }
    }

    pub fn category(&self, index: u64) -> Category {
        let roots = self.roots();
        let family = &FAMILIES[self.family_of_category(index)];
        let (parent, names) = if index < roots {
            (None, texts(family.de.to_owned(), family.en.to_owned()))
        } else {
            let child = (index - roots) / roots;
            let (sub_de, sub_en) = SUBCATEGORIES[child as usize % SUBCATEGORIES.len()];
            let round = child as usize / SUBCATEGORIES.len();
            let suffix = if round == 0 {
                String::new()
            } else {
                format!(" {}", round + 1)
            };
            let parent = category_id(self.family_of_category(index) as u64);
            (
                Some(parent),
                texts(
                    format!("{} – {sub_de}{suffix}", family.de),
                    format!("{} – {sub_en}{suffix}", family.en),
                ),
            )
        };
        Category {
            id: category_id(index),
            parent,
            names,
            row_version: 1,
        }
    }

    /// The article number, cheap to compute alone (queries filter on it).
    pub fn article_number(&self, index: u64) -> String {
        let mut stable = Draw::new(self.seed, SALT_ARTICLE, index);
        let category = self.article_category(&mut stable);
        format!("{:03}-{:07}", category + 1, index + 1)
    }

    pub fn article(&self, index: u64, version: u32) -> Article {
        let mut stable = Draw::new(self.seed, SALT_ARTICLE, index);
        let category = self.article_category(&mut stable);
        let family = &FAMILIES[self.family_of_category(category)];
        let (noun_de, noun_en) = *stable.pick(family.nouns);
        let series = 100 + stable.below(900);
        let maker = *stable.pick(MAKERS);
        let gtin_body = stable.next_u64();
        let id = article_id(index);
        let number = format!("{:03}-{:07}", category + 1, index + 1);

        let mut var = Draw::new(self.seed ^ SALT_ARTICLE_VERSION, index, version as u64);
        let (q_de, q_en) = *var.pick(QUALITIES);
        let (m_de, m_en) = *var.pick(MATERIALS);
        let (a_de, a_en) = *var.pick(APPLICATIONS);
        let size = 4 + var.below(60);
        let model = version + 1;
        let names = texts(
            format!("{noun_de} {q_de}, Serie {series}, Größe {size}"),
            format!("{noun_en} {q_en}, series {series}, size {size}"),
        );
        let mut de = String::with_capacity(160);
        let mut en = String::with_capacity(160);
        let _ = write!(
            de,
            "{noun_de} aus {m_de} für {a_de}. Hersteller: {maker}, Ausführung {model}. {} Lieferung je {}.",
            family.de, family.unit
        );
        let _ = write!(
            en,
            "{noun_en} made of {m_en} for {a_en}. Manufacturer: {maker}, revision {model}. {} Supplied per {}.",
            family.en, family.unit
        );

        let attributes = self.attributes(&mut var, maker, series);

        let image_count = 1 + stable.below(3);
        let images = (0..image_count)
            .map(|n| Image {
                url: format!("https://images.sim.invalid/{}/{}/{n}.jpg", self.seed, id.0),
                caption: (n == 0).then(|| noun_en.to_owned()),
                position: n as u32,
            })
            .collect();

        let mut references = vec![
            ArticleReference {
                kind: ReferenceKind::Gtin,
                target: gtin13(gtin_body),
            },
            ArticleReference {
                kind: ReferenceKind::Manufacturer,
                target: format!(
                    "{}-{series}-{:05}",
                    &maker[..3].to_uppercase(),
                    index % 100_000
                ),
            },
        ];
        if self.initial_articles > 1 {
            let other = (index + 1 + stable.below(99)) % self.initial_articles;
            if other != index {
                references.push(ArticleReference {
                    kind: ReferenceKind::Accessory,
                    target: article_id(other).0,
                });
            }
        }

        Article {
            id,
            number,
            names,
            descriptions: texts(de, en),
            categories: vec![category_id(category)],
            unit: Some(family.unit.to_owned()),
            attributes,
            images,
            references,
            row_version: version as u64 + 1,
            updated_at: timestamp(version, hash(self.seed, index, version as u64)),
        }
    }

    fn attributes(&self, var: &mut Draw, maker: &str, series: u64) -> Vec<Attribute> {
        let count = self.attributes_per_article as usize;
        let mut out = Vec::with_capacity(count);
        // A localized pair shares one draw so that German and English say the same thing.
        let mut pair_choice = 0u64;
        for n in 0..count {
            let Some(slot) = SLOTS.get(n) else {
                out.push(Attribute {
                    key: format!("feature_{}", n + 1),
                    value: number(var, 1, 10_000, 0),
                    unit: None,
                    lang: None,
                });
                continue;
            };
            let (value, lang) = match slot.kind {
                SlotKind::Localized(words, english) => {
                    if !english {
                        pair_choice = var.below(words.len() as u64);
                    }
                    let (de, en) = words[pair_choice as usize % words.len()];
                    if english {
                        (en.to_owned(), Some("en".to_owned()))
                    } else {
                        (de.to_owned(), Some("de".to_owned()))
                    }
                }
                SlotKind::Number { min, max, decimals } => (number(var, min, max, decimals), None),
                SlotKind::Pick(words) => ((*var.pick(words)).to_owned(), None),
                SlotKind::Maker => (maker.to_owned(), None),
                SlotKind::MakerNumber => (format!("{series}.{:04}", var.below(10_000)), None),
                SlotKind::Tariff => (format!("{:08}", 73_000_000 + var.below(1_000_000)), None),
                SlotKind::Eclass => (
                    format!(
                        "23-{:02}-{:02}-{:02}",
                        var.below(20),
                        var.below(20),
                        var.below(20)
                    ),
                    None,
                ),
            };
            out.push(Attribute {
                key: slot.key.to_owned(),
                value,
                unit: slot.unit.map(str::to_owned),
                lang,
            });
        }
        out
    }

    pub fn customer(&self, index: u64, version: u32) -> Customer {
        let mut stable = Draw::new(self.seed, SALT_CUSTOMER, index);
        let surname = *stable.pick(SURNAMES);
        let trade = *stable.pick(TRADES);
        let legal = *stable.pick(LEGAL_FORMS);
        let currency = self.customer_currency(index);
        let mut var = Draw::new(self.seed ^ SALT_CUSTOMER_VERSION, index, version as u64);
        let mailbox = ["einkauf", "bestellung", "info", "service"][var.below(4) as usize];
        let slug: String = surname
            .chars()
            .map(|c| match c {
                'ü' => 'u',
                'ö' => 'o',
                'ä' => 'a',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Customer {
            id: customer_id(index),
            number: format!("{}", 100_001 + index),
            name: format!("{surname} {trade} {legal}"),
            email: Some(format!("{mailbox}@{slug}-{}.example", index + 1)),
            currency: currency.to_owned(),
            row_version: version as u64 + 1,
        }
    }

    pub fn customer_currency(&self, index: u64) -> &'static str {
        match hash(self.seed, SALT_CUSTOMER ^ 0xFF, index) % 100 {
            0..=84 => "EUR",
            85..=94 => "CHF",
            _ => "USD",
        }
    }

    /// Customer discount group in percent (0..25).
    fn customer_discount(&self, customer: u64) -> u32 {
        [0, 3, 5, 8, 10, 15][(hash(self.seed, SALT_PRICE, customer) % 6) as usize]
    }

    /// The list price of an article in EUR cents (0.50 to 5,000 EUR, skewed low).
    pub fn list_price_cents(&self, article: u64) -> i64 {
        let mut d = Draw::new(self.seed, SALT_PRICE ^ 0x1, article);
        let scale = 10f64.powf(d.unit() * 4.0);
        (50.0 * scale).round() as i64
    }

    /// The customer's price breaks for an article, ascending, in the customer's currency.
    pub fn price_breaks(&self, customer: u64, article: u64) -> Vec<QuantityBreak> {
        const MINIMA: [i64; 5] = [1, 10, 50, 100, 500];
        const STEP_OFF: [i64; 5] = [0, 3, 6, 10, 15];
        let list = Decimal::new(self.list_price_cents(article), 2);
        let mut discount = self.customer_discount(customer) as i64;
        // Some customer/article pairs carry a negotiated special price.
        if hash(self.seed ^ customer, SALT_PRICE ^ 0x2, article).is_multiple_of(20) {
            discount += 5;
        }
        let rate = match self.customer_currency(customer) {
            "CHF" => Decimal::new(94, 2),
            "USD" => Decimal::new(108, 2),
            _ => Decimal::ONE,
        };
        let breaks = 1 + (hash(self.seed, SALT_PRICE ^ 0x3, article) % 4) as usize;
        (0..breaks)
            .map(|b| {
                let off = Decimal::new(100 - discount - STEP_OFF[b], 2);
                QuantityBreak {
                    min_quantity: Decimal::from(MINIMA[b]),
                    unit_price: (list * off * rate).round_dp(2),
                }
            })
            .collect()
    }

    /// Stock of an article in a warehouse before any booked adjustment: (available, reserved).
    pub fn base_stock(&self, article: u64, warehouse: u32) -> (Decimal, Decimal) {
        let mut d = Draw::new(self.seed ^ SALT_STOCK, article, warehouse as u64);
        let available = if d.below(5) == 0 { 0 } else { d.below(1000) };
        let reserved = d.below(50).min(available);
        (Decimal::from(available), Decimal::from(reserved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator() -> Generator {
        Generator {
            seed: 7,
            initial_articles: 1000,
            attributes_per_article: 20,
            categories: 200,
            customers: 100,
            warehouses: 3,
        }
    }

    #[test]
    fn ids_round_trip() {
        for i in [0u64, 1, 999, 1_499_999] {
            assert_eq!(parse_article_id(&article_id(i).0), Some(i));
            assert_eq!(parse_customer_id(&customer_id(i).0), Some(i));
        }
        assert_eq!(parse_category_id(&category_id(199).0), Some(199));
        assert_eq!(parse_article_id("A0000000"), None, "ids are 1-based");
        assert_eq!(parse_article_id("A1"), None);
        assert_eq!(parse_article_id("C0000001"), None);
        assert_eq!(parse_warehouse_id("W3", 3), Some(2));
        assert_eq!(parse_warehouse_id("W4", 3), None);
    }

    #[test]
    fn gtin_check_digit_is_valid() {
        // 400638133393 is a well-known EAN body with check digit 1.
        assert_eq!(gtin13(400_638_133_393), "4006381333931");
    }

    #[test]
    fn versions_change_content_but_not_identity() {
        let g = generator();
        let v0 = g.article(17, 0);
        let v3 = g.article(17, 3);
        assert_eq!(v0.id, v3.id);
        assert_eq!(v0.number, v3.number);
        assert_eq!(v0.number, g.article_number(17));
        assert_ne!(v0.descriptions, v3.descriptions);
        assert_eq!(v0.attributes.len(), 20);
        assert!(v3.row_version > v0.row_version);
        assert_eq!(g.article(17, 3), v3, "generation is deterministic");
    }

    #[test]
    fn category_tree_has_roots_and_children() {
        let g = generator();
        let roots = (0..200).filter(|&i| g.category(i).parent.is_none()).count();
        assert_eq!(roots, FAMILIES.len());
        let child = g.category(150);
        let parent = child.parent.clone().unwrap();
        assert!(
            g.category(parse_category_id(&parent.0).unwrap())
                .parent
                .is_none()
        );
    }

    #[test]
    fn breaks_get_cheaper_with_quantity() {
        let g = generator();
        for article in 0..50 {
            let breaks = g.price_breaks(3, article);
            assert!(!breaks.is_empty());
            for pair in breaks.windows(2) {
                assert!(pair[0].min_quantity < pair[1].min_quantity);
                assert!(pair[0].unit_price >= pair[1].unit_price);
            }
        }
    }
}
