"""Headers people write in other languages for standard fields: Chinese (simplified), German, French, Spanish
and Japanese, including Salesforce's own translated labels. Auto-mapping tries them after API names and the
org's labels; English headers never reach this table (they match by name or label, as they always did).

This is the one place these words live: add a header here and every auto-mapping (the API's suggestion,
a job without a mapping, a plan's step, a plan skeleton) knows it. A field's words on one object come
first, then the words every object shares for it."""

from __future__ import annotations

# Fields most objects share, by field API name.
COMMON_FIELDS: dict[str, tuple[str, ...]] = {
    # Name where it is a plain text field (Account, Opportunity, most custom objects; never a person's).
    "Name": ("名称",),
    "Phone": (
        "电话",
        "电话号码",
        "联系电话",
        "固定电话",
        "座机",
        "Telefon",
        "Telefonnummer",
        "Téléphone",
        "Teléfono",
        "電話",
        "電話番号",
    ),
    "Fax": ("传真", "Telefax", "Télécopie", "Faxnummer", "ファックス"),
    "Website": (
        "网站",
        "网址",
        "网页",
        "主页",
        "公司网站",
        "Webseite",
        "Internetseite",
        "Site Web",
        "Sitio web",
        "ウェブサイト",
        "Web サイト",
    ),
    "Industry": (
        "行业",
        "所属行业",
        "Branche",
        "Industrie",
        "Secteur",
        "Secteur d'activité",
        "Industria",
        "業種",
    ),
    "Description": ("描述", "说明", "备注", "Beschreibung", "Descripción", "説明", "備考"),
    "Email": (
        "邮箱",
        "电子邮件",
        "电子邮箱",
        "邮件",
        "邮件地址",
        "邮箱地址",
        "E-Mail",
        "Courriel",
        "E-mail",
        "Correo electrónico",
        "メール",
        "メールアドレス",
    ),
    "MobilePhone": (
        "手机",
        "手机号",
        "手机号码",
        "Mobiltelefon",
        "Mobil",
        "Téléphone mobile",
        "Móvil",
        "Teléfono móvil",
        "Celular",
        "携帯電話",
        "携帯",
    ),
    "Title": ("职位", "职务", "职称", "Titel", "Fonction", "Titre", "Puesto", "役職"),
    "FirstName": (
        "名",
        "名字",
        "Vorname",
        "Prénom",
        "Nombre de pila",
        "Nombre",
    ),
    "LastName": (
        "姓",
        "姓氏",
        "Nachname",
        "Familienname",
        "Nom de famille",
        "Apellido",
        "Apellidos",
    ),
    "AnnualRevenue": (
        "年收入",
        "年营业额",
        "Jahresumsatz",
        "Chiffre d'affaires annuel",
        "Ingresos anuales",
        "年間売上",
    ),
    "NumberOfEmployees": (
        "员工数",
        "员工人数",
        "员工数量",
        "Mitarbeiter",
        "Anzahl Mitarbeiter",
        "Employés",
        "Nombre d'employés",
        "Empleados",
        "従業員数",
    ),
}

# Fields that name something different on each object (a company is an Account's Name but a Lead's Company).
OBJECT_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "Account": {
        "Name": (
            "公司名称",
            "客户名称",
            "公司名",
            "客户名",
            "公司",
            "客户",
            "Firma",
            "Firmenname",
            "Accountname",
            "Account-Name",
            "Unternehmen",
            "Société",
            "Nom du compte",
            "Entreprise",
            "Raison sociale",
            "Empresa",
            "Nombre de la cuenta",
            "Nombre de empresa",
            "Razón social",
            "取引先名",
            "会社名",
            "企業名",
        ),
        "AccountNumber": (
            "客户编号",
            "客户号",
            "Kundennummer",
            "Accountnummer",
            "Numéro de compte",
            "Número de cuenta",
            "取引先番号",
        ),
        "Type": ("客户类型", "类型", "Accounttyp", "Type de compte", "Tipo de cuenta", "取引先 種別"),
    },
    "Contact": {
        "Salutation": ("称谓", "称呼", "Anrede", "Civilité", "Saludo", "敬称"),
        "Department": ("部门", "Abteilung", "Département", "Departamento", "部署"),
        "Birthdate": (
            "生日",
            "出生日期",
            "Geburtsdatum",
            "Geburtstag",
            "Date de naissance",
            "Fecha de nacimiento",
            "誕生日",
            "生年月日",
        ),
    },
    "Lead": {
        "Company": (
            "公司名称",
            "公司",
            "公司名",
            "Firma",
            "Firmenname",
            "Unternehmen",
            "Société",
            "Entreprise",
            "Empresa",
            "Compañía",
            "会社名",
            "企業名",
        ),
        "LeadSource": ("线索来源", "潜在客户来源", "来源", "Leadquelle", "Origine", "Origen", "リードソース"),
        "Status": ("线索状态", "状态", "Leadstatus", "Statut", "Estado", "リード状況", "状況"),
    },
    "Opportunity": {
        "Name": (
            "业务机会名称",
            "商机名称",
            "机会名称",
            "Opportunity-Name",
            "Opportunityname",
            "Verkaufschance",
            "Nom de l'opportunité",
            "Opportunité",
            "Nombre de la oportunidad",
            "Oportunidad",
            "商談名",
        ),
        "Amount": ("金额", "成交金额", "预计金额", "Betrag", "Montant", "Importe", "Monto", "金額"),
        "CloseDate": (
            "结束日期",
            "成交日期",
            "预计成交日期",
            "Abschlussdatum",
            "Date de clôture",
            "Fecha de cierre",
            "完了予定日",
        ),
        "StageName": ("阶段", "销售阶段", "商机阶段", "Verkaufsphase", "Étape", "Fase", "Etapa", "フェーズ"),
        "Probability": ("可能性", "概率", "Wahrscheinlichkeit", "Probabilité", "Probabilidad", "確度"),
    },
}

# Address parts, filled into the object's main address (Billing on Account, Mailing on Contact, plain on Lead).
ADDRESS_PARTS: dict[str, tuple[str, ...]] = {
    "Street": (
        "街道",
        "地址",
        "详细地址",
        "Straße",
        "Strasse",
        "Adresse",
        "Rue",
        "Calle",
        "Dirección",
        "住所",
        "町名・番地",
    ),
    "City": ("城市", "市", "Stadt", "Ort", "Ville", "Ciudad", "市区郡", "市区町村"),
    "PostalCode": ("邮编", "邮政编码", "PLZ", "Postleitzahl", "Code postal", "Código postal", "郵便番号"),
    "State": ("省", "省份", "州", "Bundesland", "Estado/Provincia", "Provincia", "都道府県"),
    "Country": ("国家", "国家/地区", "Pays", "País", "国"),
}
ADDRESS_PREFIX = {"Account": "Billing", "Contact": "Mailing", "Lead": ""}


def field_synonyms(object_name: str) -> dict[str, tuple[str, ...]]:
    """Headers in other languages for the standard fields of `object_name`, by field API name: the object's
    own words for a field first, then those every object shares."""
    table = dict(COMMON_FIELDS)
    for name, words in OBJECT_FIELDS.get(object_name, {}).items():
        table[name] = words + tuple(w for w in table.get(name, ()) if w not in words)
    prefix = ADDRESS_PREFIX.get(object_name)
    if prefix is not None:
        table.update({prefix + part: words for part, words in ADDRESS_PARTS.items()})
    return table
