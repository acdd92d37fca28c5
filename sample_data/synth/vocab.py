"""Word lists and support-ticket prose for `generate.py`.

Everything here is fictional. Every string must be encodable as latin-1 because contacts are
written as a latin-1 (Windows) export. Prose avoids long digit runs, so that PII scanners only
find the identifiers the generator plants on purpose.
"""

from __future__ import annotations

# Word lists and prose read better packed than one item per line.
# fmt: off

# country -> (weight, region, currency, phone country code, legal forms)
COUNTRIES: dict[str, tuple[int, str, str, str, tuple[str, ...]]] = {
    "US": (28, "North America", "USD", "1", ("Inc.", "Corp.", "LLC")),
    "CA": (3, "North America", "USD", "1", ("Inc.", "Ltd.")),
    "GB": (12, "EMEA", "GBP", "44", ("Ltd", "PLC")),
    "IE": (2, "EMEA", "EUR", "353", ("Ltd", "DAC")),
    "DE": (14, "EMEA", "EUR", "49", ("GmbH", "AG", "SE")),
    "AT": (2, "EMEA", "EUR", "43", ("GmbH", "AG")),
    "CH": (3, "EMEA", "EUR", "41", ("AG", "GmbH", "SA")),
    "FR": (8, "EMEA", "EUR", "33", ("SAS", "SA")),
    "BE": (2, "EMEA", "EUR", "32", ("NV", "SRL")),
    "NL": (6, "EMEA", "EUR", "31", ("B.V.", "N.V.")),
    "ES": (4, "EMEA", "EUR", "34", ("S.L.", "S.A.")),
    "IT": (4, "EMEA", "EUR", "39", ("S.p.A.", "S.r.l.")),
    "SE": (3, "EMEA", "EUR", "46", ("AB",)),
    "DK": (2, "EMEA", "EUR", "45", ("A/S", "ApS")),
    "PL": (2, "EMEA", "EUR", "48", ("Sp. z o.o.", "S.A.")),
    "AU": (2, "APAC", "USD", "61", ("Pty Ltd",)),
    "JP": (1, "APAC", "USD", "81", ("K.K.",)),
    "SG": (1, "APAC", "USD", "65", ("Pte. Ltd.",)),
    "BR": (1, "LATAM", "USD", "55", ("Ltda.", "S.A.")),
}

# IBAN BBAN layout ("n" digit, "a" upper-case letter) for IBAN countries.
IBAN_LAYOUT: dict[str, str] = {
    "GB": "aaaannnnnnnnnnnnnn",
    "IE": "aaaannnnnnnnnnnnnn",
    "DE": "nnnnnnnnnnnnnnnnnn",
    "AT": "nnnnnnnnnnnnnnnn",
    "CH": "nnnnnnnnnnnnnnnnn",
    "FR": "nnnnnnnnnnnnnnnnnnnnnnn",
    "BE": "nnnnnnnnnnnn",
    "NL": "aaaannnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn",
    "IT": "annnnnnnnnnnnnnnnnnnnnn",
    "SE": "nnnnnnnnnnnnnnnnnnnn",
    "DK": "nnnnnnnnnnnnnn",
    "PL": "nnnnnnnnnnnnnnnnnnnnnnnn",
    "BR": "nnnnnnnnnnnnnnnnnnnnnnnan",
}

# VAT id layout after the 2-letter prefix; countries without VAT ids get none (by design).
VAT_LAYOUT: dict[str, str] = {
    "GB": "nnnnnnnnn",
    "IE": "nnnnnnnW",
    "DE": "nnnnnnnnn",
    "AT": "Unnnnnnnn",
    "CH": "Ennnnnnnnn",
    "FR": "nnnnnnnnnnn",
    "BE": "0nnnnnnnnn",
    "NL": "nnnnnnnnnB01",
    "ES": "Bnnnnnnnn",
    "IT": "nnnnnnnnnnn",
    "SE": "nnnnnnnnnn01",
    "DK": "nnnnnnnn",
    "PL": "nnnnnnnnnn",
}

INDUSTRY_NOUNS: dict[str, tuple[str, ...]] = {
    "Software": ("Software", "Systems", "Labs", "Digital", "Analytics", "Cloud"),
    "Manufacturing": ("Manufacturing", "Industries", "Tooling", "Components", "Metalworks"),
    "Retail": ("Retail", "Stores", "Outfitters", "Market"),
    "Financial Services": ("Capital", "Financial", "Insurance", "Partners"),
    "Healthcare": ("Health", "Medical", "Diagnostics", "Care"),
    "Logistics": ("Logistics", "Freight", "Shipping", "Transport"),
    "Energy": ("Energy", "Power", "Renewables", "Solar"),
    "Telecommunications": ("Telecom", "Networks", "Communications"),
    "Media": ("Media", "Studios", "Publishing"),
    "Professional Services": ("Consulting", "Advisory", "Group"),
    "Education": ("Learning", "Academy", "Education"),
    "Food & Beverage": ("Foods", "Brewing", "Beverages", "Bakery"),
}

NAME_PREFIXES: tuple[str, ...] = (
    "Nordwind", "Bluepeak", "Silverline", "Alpenglow", "Harborview", "Summit", "Crestwood",
    "Vertex", "Orion", "Atlas", "Helix", "Pioneer", "Meridian", "Northgate", "Red Oak", "Granite",
    "Riverside", "Lakeshore", "Kestrel", "Falcon", "Aurora", "Polaris", "Sterling", "Evergreen",
    "Cobalt", "Beacon", "Cedar", "Westbrook", "Ironbridge", "Brightwater", "Sunfield", "Greenway",
    "Oakridge", "Stonebridge", "Clearview", "Highland", "Maple", "Pinnacle", "Quantum", "Nova",
    "Zenith", "Apex", "Lumen", "Terra", "Vista", "Halcyon", "Saffron", "Tidewater", "Copperfield",
    "Ashford", "Bergmann", "Lindholm", "Rheinland", "Solaris", "Fjord", "Montclair", "Castellan",
    "Valmont", "Ostwind", "Kingsway",
)

# Planted near-duplicate clusters: the first spelling is the original account, the others are
# later re-entries of the same company under a different account_id.
DUPLICATE_CLUSTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("US", "Manufacturing", ("Acme Corp", "ACME Corporation", "Acme Corp.", "Acme, Inc")),
    ("US", "Software", ("Globex Corporation", "Globex Corp", "GLOBEX CORP.")),
    ("DE", "Software", ("Initech GmbH", "Initech G.m.b.H.", "INITECH Deutschland GmbH")),
    ("GB", "Healthcare", ("Umbrella Industries Ltd", "Umbrella Industries Limited")),
    ("US", "Retail", ("Vandelay Industries", "Vandelay Industries Inc.")),
    ("US", "Software", ("Hooli Inc.", "Hooli")),
    ("NL", "Logistics", ("Stark Logistics B.V.", "Stark Logistics BV")),
    ("SE", "Manufacturing", ("Cyberdyne Systems AB", "Cyberdyne Systems")),
    ("GB", "Food & Beverage", ("Wonka Confectionery PLC", "Wonka Confectionary plc")),
    ("JP", "Logistics", ("Nakatomi Trading Co.", "Nakatomi Trading Company", "Nakatomi Trading")),
)

TEST_ACCOUNT_NAMES: tuple[str, ...] = (
    "TEST - Do not use", "Sandbox Account (QA)", "Demo Tenant EMEA", "zz_test_account",
    "Test Company GmbH", "Brightline Internal Demo",
)

SALES_REPS: dict[str, tuple[str, ...]] = {
    "North America": ("megan.ross", "daniel.cho", "tyler.brooks", "ashley.nguyen"),
    "EMEA": ("lena.hoffmann", "pierre.laurent", "sophie.van.dam", "oliver.grant", "marta.ruiz"),
    "APAC": ("kenji.mori", "priya.raman"),
    "LATAM": ("lucas.almeida",),
}
INTERNAL_DOMAIN = "brightline.example"

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "de": (
        "Jürgen", "Lena", "Lukas", "Anna", "Matthias", "Sophie", "Jörg", "Katrin", "Felix",
        "Björn", "Sören", "Hannah", "Tobias", "Miriam", "Günter", "Thomas",
    ),
    "fr": (
        "François", "Hélène", "Léa", "Élodie", "Jérôme", "Camille", "Théo", "Chloé", "Mathieu",
        "Amélie", "Nicolas", "Julie",
    ),
    "es": (
        "José", "María", "Lucía", "Andrés", "Iñigo", "Sofía", "Javier", "Nuria", "Raúl", "Inés",
        "Carlos", "Elena",
    ),
    "it": (
        "Giulia", "Marco", "Niccolò", "Francesca", "Luca", "Chiara", "Andrea", "Sara", "Matteo",
        "Elena",
    ),
    "nl": ("Sanne", "Daan", "Lotte", "Bram", "Femke", "Joris", "Anouk", "Thijs", "Eva", "Ruud"),
    "nordic": (
        "Åsa", "Björn", "Søren", "Linnéa", "Mads", "Ingrid", "Jörgen", "Frida", "Anders", "Maja",
    ),
    "pl": ("Piotr", "Anna", "Katarzyna", "Tomasz", "Agnieszka", "Marek"),
    "en": (
        "James", "Emily", "Oliver", "Charlotte", "Michael", "Jessica", "Daniel", "Sarah", "Liam",
        "Aoife", "Siobhán", "Seán", "Chloe", "Ryan", "Megan", "David", "Laura",
    ),
    "jp": ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina"),
    "sg": ("Wei Ling", "Jun Jie", "Mei Xin", "Darren"),
    "pt": ("João", "Ana", "Gonçalo", "Beatriz", "Thiago", "Larissa"),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "de": (
        "Müller", "Schmidt", "Schäfer", "Weiß", "Köhler", "Becker", "Hoffmann", "Krüger",
        "Fischer", "Wagner", "Groß", "Lehmann", "Böhm", "Vogel",
    ),
    "fr": (
        "Dubois", "Lefèvre", "Moreau", "Bérard", "Girard", "Rousseau", "Fontaine", "Chevalier",
        "Lemaître", "Durand",
    ),
    "es": (
        "García", "Núñez", "Martínez", "López", "Fernández", "Sánchez", "Muñoz", "Jiménez",
        "Ibáñez", "Ortega",
    ),
    "it": (
        "Rossi", "Bianchi", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno",
    ),
    "nl": (
        "de Vries", "van Dijk", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
        "Mulder", "van den Berg",
    ),
    "nordic": (
        "Andersson", "Johansson", "Nielsen", "Sørensen", "Lindqvist", "Bergström", "Håkansson",
        "Jensen", "Østergaard", "Lund",
    ),
    "pl": ("Nowak", "Kowalski", "Zielinski", "Wójcik", "Mazur", "Krawczyk"),
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Taylor", "O'Brien", "Murphy", "Walsh", "Patel",
        "Nguyen", "Miller", "Davis", "Clarke", "Evans", "Campbell",
    ),
    "jp": ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"),
    "sg": ("Tan", "Lim", "Ng", "Wong"),
    "pt": ("Silva", "Souza", "Conceição", "Araújo", "Pereira", "Gonçalves"),
}

NAME_POOL_BY_COUNTRY: dict[str, str] = {
    "DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "ES": "es", "IT": "it", "NL": "nl",
    "SE": "nordic", "DK": "nordic", "PL": "pl", "JP": "jp", "SG": "sg", "BR": "pt",
}

TITLES: tuple[str, ...] = (
    "CFO", "CTO", "Head of Procurement", "IT Manager", "Finance Manager", "Accounts Payable Clerk",
    "Operations Director", "Data Engineer", "Head of Sales Operations", "Office Manager",
    "VP Engineering", "Controller", "Purchasing Agent", "Customer Success Lead", "CEO",
)

OPPORTUNITY_KINDS: tuple[str, ...] = (
    "New Business", "Renewal", "Upsell", "Expansion", "Pilot", "Add-on Seats",
)

MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

# --- Support ticket prose -------------------------------------------------------------------

# category -> (subject, opening problem statement) pairs
TICKET_ISSUES: dict[str, tuple[tuple[str, str], ...]] = {
    "billing": (
        ("Invoice amount looks wrong",
         "Our latest invoice shows a higher amount than the quote we signed in the spring."),
        ("Charged twice this month",
         "It looks like we were charged twice for the same subscription period."),
        ("VAT missing on invoice",
         "The invoice we received does not list our VAT number, so finance cannot book it."),
        ("Seat count on invoice is wrong",
         "We reduced the number of seats last quarter but the invoice still bills the old count."),
        ("Need a corrected invoice",
         "Our purchase order reference is missing from the invoice and accounts payable rejected "
         "it."),
    ),
    "technical_issue": (
        ("Dashboard not loading",
         "Since this morning the main dashboard only shows a spinner and never finishes loading."),
        ("Sync job keeps failing",
         "The nightly sync job fails with a timeout error and the status page shows nothing."),
        ("Export times out",
         "Exporting the pipeline report to Excel stops halfway and the file is empty."),
        ("Error when saving report",
         "When I try to save a report I get a generic error message and my changes are lost."),
        ("Slow performance since the update",
         "After the last update every page takes a very long time to open for our whole team."),
    ),
    "account_access": (
        ("Cannot log in",
         "I cannot log in anymore, the page says my password is invalid even after a reset."),
        ("SSO login loop",
         "Our single sign-on sends users back to the login page in an endless loop."),
        ("Need to reset two-factor",
         "A colleague replaced her phone and can no longer pass the two-factor check."),
        ("User locked out",
         "One of our users was locked out after several failed attempts this morning."),
        ("Add new admin user",
         "We need to add a second administrator because our current admin is leaving."),
    ),
    "feature_request": (
        ("Feature request: scheduled exports",
         "It would help us a lot if exports could be scheduled to run every Monday morning."),
        ("Please add dark mode",
         "Several people on the team have asked for a dark mode for the web app."),
        ("Request: custom fields on reports",
         "We would like to add our own custom fields to the standard sales reports."),
        ("Bulk edit for records",
         "Editing records one at a time is slow, a bulk edit option would save us hours."),
    ),
    "integration": (
        ("Salesforce connector stopped syncing",
         "The Salesforce connector stopped syncing new opportunities at some point yesterday."),
        ("Webhook not firing",
         "Our webhook endpoint no longer receives events when a deal changes stage."),
        ("API returns unauthorized",
         "Calls to the API suddenly return unauthorized although the token has not changed."),
        ("ERP import mapping question",
         "We are not sure how to map our ERP customer fields during the import."),
    ),
    "data_export": (
        ("Need a full data export",
         "We need a full export of our workspace data for an internal audit."),
        ("CSV export has broken characters",
         "The CSV export shows broken characters for names with accents."),
        ("Export missing columns",
         "The export is missing the owner and region columns that we see in the app."),
        ("GDPR data request",
         "A former customer asked for all data we hold about them and we need an export."),
    ),
    "onboarding": (
        ("Help setting up our workspace",
         "We are setting up our workspace and are unsure how to structure the teams."),
        ("Training session for new team",
         "We have new colleagues starting next month and would like a training session."),
        ("Question about user roles",
         "Could you explain the difference between the manager and editor roles?"),
        ("Migrating from our old tool",
         "We are moving over from our previous tool and want to bring our history along."),
    ),
}

TICKET_OPENERS: tuple[str, ...] = (
    "Hello support team,", "Hi there,", "Good morning,", "Hi,", "Dear Brightline support,",
    "Hello,",
)

# Sentences that fit any ticket.
TICKET_DETAILS: tuple[str, ...] = (
    "This affects about a dozen people in our finance and sales teams.",
    "It worked fine until the end of last month.",
    "Our IT department confirmed that nothing changed on our side.",
    "We are on the Enterprise plan in case that matters.",
    "Two of my colleagues can confirm this.",
    "I checked the help center article but it did not answer my question.",
    "We would appreciate an update even if there is no quick answer.",
    "Please let me know if you need more details from our side.",
    "We use the EU data center if that helps.",
    "I am happy to join a short call if that is easier.",
    "Our month-end close depends on this, so it is fairly urgent for us.",
    "A colleague opened a similar ticket a while ago but it was closed without an answer.",
)

# Sentences that only fit one category.
TICKET_CATEGORY_DETAILS: dict[str, tuple[str, ...]] = {
    "billing": (
        "Our auditors need the corrected documents before the end of the quarter.",
        "Accounts payable will put the payment on hold until this is clarified.",
        "The contract says we should be billed annually, not monthly.",
        "Please also send the credit note as a separate document.",
    ),
    "technical_issue": (
        "We already tried clearing the browser cache and using a different browser.",
        "The problem started right after your maintenance window last weekend.",
        "I attached a screenshot of the error message to this ticket.",
        "We see the same behaviour on Windows and on Mac.",
        "The issue happens every time, not only occasionally.",
    ),
    "account_access": (
        "Nothing in the audit log explains what happened.",
        "We have not changed any settings in the admin console recently.",
        "The user can still log in on the mobile app, only the browser fails.",
        "Our identity provider shows the login as successful.",
    ),
    "feature_request": (
        "Other tools we use already offer this.",
        "We would be happy to test an early version.",
        "Right now we work around it with spreadsheets, which is error prone.",
    ),
    "integration": (
        "The connector log only shows a generic error without details.",
        "We rotated no credentials and the integration user is still active.",
        "The same setup works in our sandbox environment.",
        "The last successful sync was before the weekend.",
    ),
    "data_export": (
        "We need the file in a format our auditors can open in Excel.",
        "The data should include archived records as well.",
        "Please confirm how long the export link stays valid.",
    ),
    "onboarding": (
        "About twenty people will use the workspace in the first phase.",
        "We would prefer a session in the morning, European time.",
        "Our team lead will be the main contact for the rollout.",
    ),
}

TICKET_CLOSERS: tuple[str, ...] = (
    "Thanks in advance for your help.", "Kind regards.", "Thank you!",
    "Best regards from the operations team.", "Looking forward to your reply.", "Many thanks.",
)

PII_EMAIL_SENTENCES: tuple[str, ...] = (
    "Please send your reply to {email} as I am out of office next week.",
    "You can also reach my colleague directly at {email}.",
    "Our accounts payable mailbox is {email}, please copy them on your reply.",
    "The affected user is {email}.",
)
PII_PHONE_SENTENCES: tuple[str, ...] = (
    "You can call me on {phone} until five in the afternoon.",
    "If easier, ring our IT desk on {phone}.",
    "My mobile is {phone} in case the line drops.",
)
PII_IBAN_SENTENCES: tuple[str, ...] = (
    "For the refund, our account is IBAN {iban}.",
    "Our bank details changed, the new IBAN is {iban}.",
    "The credit note should be paid out to {iban}.",
)

NEAR_EMPTY_DESCRIPTIONS: tuple[str, ...] = (
    "", "n/a", "asdf", ".", "test", "see subject",
)
