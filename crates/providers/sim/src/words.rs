//! Word lists for plausible German/English master data, so full-text search over a
//! simulated catalog has real words to find ("Sechskantschraube", "ball valve").

/// A product family: the roots of the category tree, and the vocabulary of its articles.
pub struct Family {
    pub de: &'static str,
    pub en: &'static str,
    pub unit: &'static str,
    /// (German, English) nouns of the articles in this family.
    pub nouns: &'static [(&'static str, &'static str)],
}

pub const FAMILIES: &[Family] = &[
    Family {
        de: "Schrauben und Befestigung",
        en: "Screws and fasteners",
        unit: "PCE",
        nouns: &[
            ("Sechskantschraube", "Hex bolt"),
            ("Zylinderschraube", "Socket head cap screw"),
            ("Senkschraube", "Countersunk screw"),
            ("Holzschraube", "Wood screw"),
            ("Gewindestange", "Threaded rod"),
            ("Sechskantmutter", "Hex nut"),
            ("Unterlegscheibe", "Washer"),
            ("Dübel", "Wall plug"),
        ],
    },
    Family {
        de: "Werkzeug",
        en: "Tools",
        unit: "PCE",
        nouns: &[
            ("Akku-Bohrschrauber", "Cordless drill driver"),
            ("Schraubendreher", "Screwdriver"),
            ("Schlosserhammer", "Engineer's hammer"),
            ("Kombizange", "Combination pliers"),
            ("Handsäge", "Hand saw"),
            ("Wasserwaage", "Spirit level"),
            ("Maßband", "Tape measure"),
            ("Bit-Satz", "Bit set"),
        ],
    },
    Family {
        de: "Elektroinstallation",
        en: "Electrical installation",
        unit: "PCE",
        nouns: &[
            ("Schutzkontakt-Steckdose", "Socket outlet"),
            ("Wechselschalter", "Two-way switch"),
            ("LED-Leuchte", "LED luminaire"),
            ("Leitungsschutzschalter", "Circuit breaker"),
            ("Abzweigdose", "Junction box"),
            ("Bewegungsmelder", "Motion sensor"),
            ("Netzteil", "Power supply"),
            ("Verbindungsklemme", "Connecting terminal"),
        ],
    },
    Family {
        de: "Kabel und Leitungen",
        en: "Cables and wires",
        unit: "M",
        nouns: &[
            ("Mantelleitung", "Sheathed cable"),
            ("Verlängerungskabel", "Extension cable"),
            ("Netzwerkkabel", "Network cable"),
            ("Kabelbinder", "Cable tie"),
            ("Schrumpfschlauch", "Heat-shrink tubing"),
            ("Kabelkanal", "Cable duct"),
        ],
    },
    Family {
        de: "Sanitär und Heizung",
        en: "Plumbing and heating",
        unit: "PCE",
        nouns: &[
            ("Kugelhahn", "Ball valve"),
            ("Rohrbogen", "Pipe elbow"),
            ("Siphon", "Drain trap"),
            ("Mischbatterie", "Mixer tap"),
            ("Flachdichtung", "Flat gasket"),
            ("Pressfitting", "Press fitting"),
            ("Duschkopf", "Shower head"),
        ],
    },
    Family {
        de: "Farben und Lacke",
        en: "Paints and varnishes",
        unit: "L",
        nouns: &[
            ("Wandfarbe", "Wall paint"),
            ("Klarlack", "Clear varnish"),
            ("Tiefgrund", "Deep primer"),
            ("Flachpinsel", "Flat brush"),
            ("Farbroller", "Paint roller"),
            ("Abdeckband", "Masking tape"),
        ],
    },
    Family {
        de: "Arbeitsschutz",
        en: "Workwear and safety",
        unit: "PCE",
        nouns: &[
            ("Schutzhandschuh", "Safety glove"),
            ("Schutzbrille", "Safety goggles"),
            ("Kapselgehörschutz", "Ear defenders"),
            ("Sicherheitsschuh", "Safety shoe"),
            ("Atemschutzmaske", "Respirator mask"),
            ("Warnweste", "High-visibility vest"),
        ],
    },
    Family {
        de: "Beschläge",
        en: "Hardware fittings",
        unit: "PCE",
        nouns: &[
            ("Türdrücker", "Door handle"),
            ("Möbelscharnier", "Cabinet hinge"),
            ("Einsteckschloss", "Mortise lock"),
            ("Möbelgriff", "Furniture handle"),
            ("Schubladenführung", "Drawer slide"),
            ("Türstopper", "Door stop"),
        ],
    },
    Family {
        de: "Kleben und Dichten",
        en: "Adhesives and sealants",
        unit: "PCE",
        nouns: &[
            ("Montagekleber", "Construction adhesive"),
            ("Sanitärsilikon", "Sanitary silicone"),
            ("Sekundenkleber", "Super glue"),
            ("PU-Schaum", "PU foam"),
            ("Holzleim", "Wood glue"),
            ("Gewebeband", "Duct tape"),
        ],
    },
    Family {
        de: "Antriebstechnik",
        en: "Drive technology",
        unit: "PCE",
        nouns: &[
            ("Rillenkugellager", "Deep groove ball bearing"),
            ("Keilriemen", "V-belt"),
            ("Stirnzahnrad", "Spur gear"),
            ("Antriebswelle", "Drive shaft"),
            ("Klauenkupplung", "Jaw coupling"),
            ("Kettenrad", "Sprocket"),
        ],
    },
];

/// Sub-category themes under each family.
pub const SUBCATEGORIES: &[(&str, &str)] = &[
    ("Standard", "Standard"),
    ("Profi", "Professional"),
    ("Sortimente", "Assortments"),
    ("Zubehör", "Accessories"),
    ("Ersatzteile", "Spare parts"),
    ("Edelstahl", "Stainless steel"),
    ("Industrie", "Industrial"),
    ("Kompakt", "Compact"),
    ("Außenbereich", "Outdoor"),
    ("Neuheiten", "New arrivals"),
];

pub const QUALITIES: &[(&str, &str)] = &[
    ("verzinkt", "zinc-plated"),
    ("robust", "heavy-duty"),
    ("kompakt", "compact"),
    ("professionell", "professional"),
    ("wetterfest", "weatherproof"),
    ("leicht", "lightweight"),
    ("premium", "premium"),
    ("industriell", "industrial"),
    ("langlebig", "durable"),
    ("ergonomisch", "ergonomic"),
];

pub const MATERIALS: &[(&str, &str)] = &[
    ("Stahl", "steel"),
    ("Edelstahl", "stainless steel"),
    ("Aluminium", "aluminium"),
    ("Messing", "brass"),
    ("Kunststoff", "plastic"),
    ("Kupfer", "copper"),
    ("Holz", "wood"),
    ("Gummi", "rubber"),
];

pub const COLORS: &[(&str, &str)] = &[
    ("schwarz", "black"),
    ("weiß", "white"),
    ("rot", "red"),
    ("blau", "blue"),
    ("grau", "grey"),
    ("silber", "silver"),
    ("gelb", "yellow"),
    ("grün", "green"),
];

pub const SURFACES: &[(&str, &str)] = &[
    ("blank", "bright"),
    ("galvanisch verzinkt", "electro-galvanised"),
    ("feuerverzinkt", "hot-dip galvanised"),
    ("pulverbeschichtet", "powder-coated"),
    ("eloxiert", "anodised"),
    ("vernickelt", "nickel-plated"),
];

pub const APPLICATIONS: &[(&str, &str)] = &[
    ("Innenbereich", "indoor use"),
    ("Außenbereich", "outdoor use"),
    ("Industrie und Handwerk", "industry and trade"),
    ("Heimwerker", "DIY"),
    ("Feuchträume", "damp rooms"),
    ("Montage", "assembly work"),
];

pub const PACKAGINGS: &[(&str, &str)] = &[
    ("Karton", "carton"),
    ("Blister", "blister pack"),
    ("Eimer", "bucket"),
    ("Beutel", "bag"),
    ("Kunststoffbox", "plastic case"),
];

pub const MAKERS: &[&str] = &[
    "Kraftwerk Tools",
    "Hansa Technik",
    "Nordmetall",
    "Alpenwerk",
    "Rheinland Elektro",
    "Bavaria Fix",
    "Elbtal Industrie",
    "Schwarzwald Präzision",
];

pub const COUNTRIES: &[&str] = &["DE", "AT", "CH", "IT", "PL", "CZ", "CN", "TW"];

pub const IP_RATINGS: &[&str] = &["IP20", "IP44", "IP54", "IP65", "IP67"];

pub const NORMS: &[&str] = &[
    "DIN 933", "DIN 912", "DIN 7991", "ISO 4017", "EN 388", "EN 166",
];

pub const SURNAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
];

pub const TRADES: &[&str] = &[
    "Haustechnik",
    "Elektro",
    "Bau",
    "Metallbau",
    "Sanitär",
    "Holzbau",
    "Industriebedarf",
    "Werkstatt",
    "Montage",
    "Handel",
];

pub const LEGAL_FORMS: &[&str] = &["GmbH", "GmbH & Co. KG", "AG", "e.K.", "KG"];
