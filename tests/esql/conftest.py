"""Test catalog and datasets for the ES|QL conformance tests (Elastic's reference sample data).

The `employees` rows are Elastic's own ES|QL test data, so the outputs documented on the
reference pages apply unchanged. Multi-valued fields are stored the way Elasticsearch returns
them from doc values: numbers and booleans sorted ascending, keywords sorted and de-duplicated.
"""

# One employee per line keeps the sample data diffable against its source, so lines run long.
# ruff: noqa: E501

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from qs_tui.esql import EsqlResult, IndexData, run_query
from qs_tui.esql import types as esql_types
from tests.esql.tables import MemoryCatalog

# The instant `NOW()` returns in every conformance test.
FIXED_NOW = datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)

Row = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# An in-memory catalog
# ---------------------------------------------------------------------------------------------


def flatten_mapping(properties: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Leaf field names (dotted for objects) -> ES mapping type, from a mapping's `properties`."""
    leaves: dict[str, str] = {}
    for name, spec in properties.items():
        full = f"{prefix}{name}"
        if "properties" in spec:
            leaves.update(flatten_mapping(spec["properties"], f"{full}."))
        else:
            leaves[full] = str(spec.get("type", "object"))
    return leaves


def _to_datetime(value: Any) -> Any:
    """Python datetimes (aware, UTC) for date fields given as ISO strings, dates or datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    if "T" not in text:
        text += "T00:00:00+00:00"
    return datetime.fromisoformat(text).astimezone(UTC)


def _doc_values(values: list[Any], esql_type: str) -> list[Any]:
    """Multi-values in the order Elasticsearch's doc values give them back."""
    present = [v for v in values if v is not None]
    if esql_type in esql_types.STRING or esql_type in {esql_types.IP, esql_types.VERSION}:
        return sorted(set(present))
    return sorted(present)


def make_index(name: str, mapping: Mapping[str, Any], rows: Iterable[Row]) -> IndexData:
    """Build an index from Python rows and an ES mapping (`{"properties": {...}}`).

    A field holding a list in any row becomes a `pl.List` column (empty lists are nulls,
    single values are one-element lists). Each row may carry its own `_id`; otherwise the id
    is the row's position. Fields are ordered by name, as Elasticsearch reports a mapping.
    """
    leaves = flatten_mapping(mapping["properties"])
    types = {leaf: esql_types.esql_type_for_mapping(leaves[leaf]) for leaf in sorted(leaves)}
    materialised = [dict(row) for row in rows]
    columns: dict[str, pl.Series] = {}
    for leaf, esql_type in types.items():
        raw = [row.get(leaf) for row in materialised]
        dtype = esql_types.polars_dtype(esql_type)
        convert: Callable[[Any], Any] = (
            _to_datetime if esql_type == esql_types.DATE else (lambda v: v)
        )
        if any(isinstance(v, list) for v in raw):
            cells: list[Any] = []
            for v in raw:
                items = v if isinstance(v, list) else [v]
                items = _doc_values([convert(i) for i in items], esql_type)
                cells.append(items or None)
            columns[leaf] = pl.Series(leaf, cells, dtype=pl.List(dtype))
        else:
            columns[leaf] = pl.Series(leaf, [convert(v) for v in raw], dtype=dtype)
    ids = [str(row.get("_id", position)) for position, row in enumerate(materialised)]
    columns["_id"] = pl.Series("_id", ids, dtype=pl.String())
    return IndexData(name=name, frame=pl.DataFrame(columns), types=types)


# ---------------------------------------------------------------------------------------------
# employees: Elastic's sample index for the ES|QL reference examples
# ---------------------------------------------------------------------------------------------

EMPLOYEES_MAPPING: dict[str, Any] = {
    "properties": {
        "avg_worked_seconds": {"type": "long"},
        "birth_date": {"type": "date"},
        "emp_no": {"type": "integer"},
        "first_name": {"type": "keyword"},
        "gender": {"type": "keyword"},
        "height": {"type": "double"},
        "hire_date": {"type": "date"},
        "is_rehired": {"type": "boolean"},
        "job_positions": {"type": "keyword"},
        "languages": {"type": "integer"},
        "last_name": {"type": "keyword"},
        "salary": {"type": "integer"},
        "salary_change": {"type": "double"},
        "still_hired": {"type": "boolean"},
    }
}

# emp_no|first_name|last_name|gender|birth_date|hire_date|languages|salary|height|still_hired|
# avg_worked_seconds|job_positions|is_rehired|salary_change  (multi-values separated by ";")
EMPLOYEES_TEXT = """\
10001|Georgi|Facello|M|1953-09-02|1986-06-26|2|57305|2.03|true|268728049|Senior Python Developer;Accountant|false;true|1.19
10002|Bezalel|Simmel|F|1964-06-02|1985-11-21|5|56371|2.08|true|328922887|Senior Team Lead|false;false|-7.23;11.17
10003|Parto|Bamford|M|1959-12-03|1986-08-28|4|61805|1.83|false|200296405|||14.68;12.82
10004|Chirstian|Koblick|M|1954-05-01|1986-12-01|5|36174|1.78|true|311267831|Reporting Analyst;Tech Lead;Head Human Resources;Support Engineer|true|3.65;-0.35;1.13;13.48
10005|Kyoichi|Maliniak|M|1955-01-21|1989-09-12|1|63528|2.05|true|244294991||false;false;false;true|-2.14;13.07
10006|Anneke|Preusig|F|1953-04-20|1989-06-02|3|60335|1.56|false|372957040|Tech Lead;Principal Support Engineer;Senior Team Lead||-3.90
10007|Tzvetan|Zielinski|F|1957-05-23|1989-02-10|4|74572|1.70|true|393084805||true;false;true;false|-7.06;1.99;0.57
10008|Saniya|Kalloufi|M|1958-02-19|1994-09-15|2|43906|2.10|true|283074758|Senior Python Developer;Junior Developer;Purchase Manager;Internship|true;false|12.68;3.54;0.75;-2.92
10009|Sumant|Peac|F|1952-04-19|1985-02-18|1|66174|1.85|false|236805489|Senior Python Developer;Internship||
10010|Duangkaew|Piveteau||1963-06-01|1989-08-24|4|45797|1.70|false|315236372|Architect;Reporting Analyst;Tech Lead;Purchase Manager|true;true;false;false|5.05;-6.77;4.69;12.15
10011|Mary|Sluis||1953-11-07|1990-01-22|5|31120|1.50|true|239615525|Architect;Reporting Analyst;Tech Lead;Senior Team Lead|true;true|10.35;-7.82;8.73;3.48
10012|Patricio|Bridgland||1960-10-04|1992-12-18|5|48942|1.97|false|365510850|Head Human Resources;Accountant|false;true;true;false|0.04
10013|Eberhardt|Terkki||1963-06-07|1985-10-20|1|48735|1.94|true|253864340|Reporting Analyst|true;true|
10014|Berni|Genin||1956-02-12|1987-03-11|5|37137|1.99|false|225049139|Reporting Analyst;Data Scientist;Head Human Resources||-1.89;9.07
10015|Guoxiang|Nooteboom||1959-08-19|1987-07-02|5|25324|1.66|true|390266432|Principal Support Engineer;Junior Developer;Head Human Resources;Support Engineer|true;false;false;false|14.25;12.40
10016|Kazuhito|Cappelletti||1961-05-02|1995-01-27|2|61358|1.54|false|253029411|Reporting Analyst;Python Developer;Accountant;Purchase Manager|false;false|-5.18;7.69
10017|Cristinel|Bouloucos||1958-07-06|1993-08-03|2|58715|1.74|false|236703986|Data Scientist;Head Human Resources;Purchase Manager|true;false;true;true|-6.33
10018|Kazuhide|Peha||1954-06-19|1987-04-03|2|56760|1.97|false|309604079|Junior Developer|false;false;true;true|-1.64;11.51;-5.32
10019|Lillian|Haddadi||1953-01-23|1999-04-30|1|73717|2.06|false|342855721|Purchase Manager|false;false|-6.84;8.42;-7.26
10020|Mayuko|Warwick|M|1952-12-24|1991-01-26||40031|1.41|false|373309605|Tech Lead|true;true;false|-5.81
10021|Ramzi|Erde|M|1960-02-20|1988-02-10||60408|1.47|false|287654610|Support Engineer|true|
10022|Shahaf|Famili|M|1952-07-08|1995-08-22||48233|1.82|false|233521306|Reporting Analyst;Data Scientist;Python Developer;Internship|true;false|12.09;2.85
10023|Bojan|Montemayor|F|1953-09-29|1989-12-17||47896|1.75|true|330870342|Accountant;Support Engineer;Purchase Manager|true;true;false|14.63;0.80
10024|Suzette|Pettey|F|1958-09-05|1997-05-19||64675|2.08|true|367717671|Junior Developer|true;true;true;true|
10025|Prasadram|Heyers|M|1958-10-31|1987-08-17||47411|1.87|false|371270797|Accountant|true;false|-4.33;-2.90;12.06;-3.46
10026|Yongqiao|Berztiss|M|1953-04-03|1995-03-20||28336|2.10|true|359208133|Reporting Analyst|false;true|-7.37;10.62;11.20
10027|Divier|Reistad|F|1962-07-10|1989-07-07||73851|1.53|false|374037782|Senior Python Developer|false|
10028|Domenick|Tempesti|M|1963-11-26|1991-10-22||39356|2.07|true|226435054|Tech Lead;Python Developer;Accountant;Internship|true;false;false;true|
10029|Otmar|Herbst|M|1956-12-13|1985-11-20||74999|1.99|false|257694181|Senior Python Developer;Data Scientist;Principal Support Engineer|true|-0.32;-1.90;-8.19
10030||Demeyer|M|1958-07-14|1994-02-17|3|67492|1.92|false|394597613|Tech Lead;Data Scientist;Senior Team Lead|true;false;false|-0.40
10031||Joslin|M|1959-01-27|1991-09-01|4|37716|1.68|false|348545109|Architect;Senior Python Developer;Purchase Manager;Senior Team Lead|false|
10032||Reistad|F|1960-08-09|1990-06-20|3|62233|2.10|false|277622619|Architect;Senior Python Developer;Junior Developer;Purchase Manager|false;false|9.32;-4.92
10033||Merlo|M|1956-11-14|1987-03-18|1|70011|1.63|false|208374744||true|
10034||Swan|M|1962-12-29|1988-09-21|1|39878|1.46|false|214393176|Business Analyst;Data Scientist;Python Developer;Accountant|false|-8.46
10035||Chappelet|M|1953-02-08|1988-09-05|5|25945|1.81|false|203838153|Senior Python Developer;Data Scientist|false|-2.54;-6.58
10036||Portugali|M|1959-08-10|1992-01-03|4|60781|1.61|false|305493131|Senior Python Developer|true;false;false|
10037||Makrucki|M|1963-07-22|1990-12-05|2|37691|2.00|true|359217000|Senior Python Developer;Tech Lead;Accountant|false|-7.08
10038||Lortz|M|1960-07-20|1989-09-20|4|35222|1.53|true|314036411|Senior Python Developer;Python Developer;Support Engineer||
10039||Brender|M|1959-10-01|1988-01-19|2|36051|1.55|false|243221262|Business Analyst;Python Developer;Principal Support Engineer|true;true|-6.90
10040|Weiyi|Meriste|F||1993-02-14|4|37112|1.90|false|244478622|Principal Support Engineer|true;false;true;true|6.97;14.74;-8.94;1.92
10041|Uri|Lenart|F||1989-11-12|1|56415|1.75|false|287789442|Data Scientist;Head Human Resources;Internship;Senior Team Lead||9.21;0.05;7.29;-2.94
10042|Magy|Stamatiou|F||1993-03-21|3|30404|1.44|true|246355863|Architect;Business Analyst;Junior Developer;Internship||-9.28;9.42
10043|Yishay|Tzvieli|M||1990-10-20|1|34341|1.52|true|287222180|Data Scientist;Python Developer;Support Engineer|false;true;true|-5.17;4.62;7.42
10044|Mingsen|Casley|F||1994-05-21|1|39728|2.06|false|387408356|Tech Lead;Principal Support Engineer;Accountant;Support Engineer|true;true|8.09
10045|Moss|Shanbhogue|M||1989-09-02|3|74970|1.70|false|371418933|Principal Support Engineer;Junior Developer;Accountant;Purchase Manager|true;false|
10046|Lucien|Rosenbaum|M||1992-06-20|4|50064|1.52|true|302353405|Principal Support Engineer;Junior Developer;Head Human Resources;Internship|true;true;false;true|2.39
10047|Zvonko|Nyanchama|M||1989-03-31|4|42716|1.52|true|306369346|Architect;Data Scientist;Principal Support Engineer;Senior Team Lead|true|-6.36;12.12
10048|Florian|Syrotiuk|M||1985-02-24|3|26436|2.00|false|248451647|Internship|true;true|
10049|Basil|Tramer|F||1992-05-04|5|37853|1.52|true|320725709|Senior Python Developer;Business Analyst||-1.05
10050|Yinghua|Dredge|M|1958-05-21|1990-12-25|2|43026|1.96|true|242731798|Reporting Analyst;Junior Developer;Accountant;Support Engineer|true|8.70;10.94
10051|Hidefumi|Caine|M|1953-07-28|1992-10-15|3|58121|1.89|true|374753122|Business Analyst;Accountant;Purchase Manager||
10052|Heping|Nitsch|M|1961-02-26|1988-05-21|1|55360|1.79|true|299654717||true;true;false|-0.55;-1.89;-4.22;-6.03
10053|Sanjiv|Zschoche|F|1954-09-13|1986-02-04|3|54462|1.58|false|368103911|Support Engineer|true;false;true;false|-7.67;-3.25
10054|Mayumi|Schueller|M|1957-04-04|1995-03-13|4|65367|1.82|false|297441693|Principal Support Engineer|false;false|
10055|Georgy|Dredge|M|1956-06-06|1992-04-27|5|49281|2.04|false|283157844|Senior Python Developer;Head Human Resources;Internship;Support Engineer|false;false;true|7.34;12.99;3.17
10056|Brendon|Bernini|F|1961-09-01|1990-02-01|2|33370|1.57|true|349086555|Senior Team Lead|true;false;false|10.99;-5.17
10057|Ebbe|Callaway|F|1954-05-30|1992-01-15|4|27215|1.59|true|324356269|Python Developer;Head Human Resources||-6.73;-2.43;-5.27;1.03
10058|Berhard|McFarlin|M|1954-10-01|1987-04-13|3|38376|1.83|false|268378108|Principal Support Engineer||-4.89
10059|Alejandro|McAlpine|F|1953-09-19|1991-06-26|2|44307|1.48|false|237368465|Architect;Principal Support Engineer;Purchase Manager;Senior Team Lead|false|5.53;13.38;-4.69;6.27
10060|Breannda|Billingsley|M|1961-10-15|1987-11-02|2|29175|1.42|true|341158890|Business Analyst;Data Scientist;Senior Team Lead|false;false;true;false|-1.76;-0.85
10061|Tse|Herber|M|1962-10-19|1985-09-17|1|49095|1.45|false|327550310|Purchase Manager;Senior Team Lead|false;true|14.39;-2.58;-0.95
10062|Anoosh|Peyn|M|1961-11-02|1991-08-30|3|65030|1.70|false|203989706|Python Developer;Senior Team Lead|false;true;true|-1.17
10063|Gino|Leonhardt|F|1952-08-06|1989-04-08|3|52121|1.78|true|214068302||true|
10064|Udi|Jansch|M|1959-04-07|1985-11-20|5|33956|1.93|false|307364077|Purchase Manager|false;false;true;false|-8.66;-2.52
10065|Satosi|Awdeh|M|1963-04-14|1988-05-18|2|50249|1.59|false|372660279|Business Analyst;Data Scientist;Principal Support Engineer|false;true|-1.47;14.44;-9.81
10066|Kwee|Schusler|M|1952-11-13|1986-02-26|5|31897|2.10|true|360906451|Senior Python Developer;Data Scientist;Accountant;Internship|true;true;true|5.94
10067|Claudi|Stavenow|M|1953-01-07|1987-03-04|2|52044|1.77|true|347664141|Tech Lead;Principal Support Engineer|false;false|8.72;4.44
10068|Charlene|Brattka|M|1962-11-26|1987-08-07|3|28941|1.58|true|233999584|Architect|true|3.43;-5.61;-5.29
10069|Margareta|Bierman|F|1960-09-06|1989-11-05|5|41933|1.77|true|366512352|Business Analyst;Junior Developer;Purchase Manager;Support Engineer|false|-3.34;-6.33;6.23;-0.31
10070|Reuven|Garigliano|M|1955-08-20|1985-10-14|3|54329|1.77|true|347188604||true;true;true|-5.90
10071|Hisao|Lipner|M|1958-01-21|1987-10-01|2|40612|2.07|false|306671693|Business Analyst;Reporting Analyst;Senior Team Lead|false;false;false|-2.69
10072|Hironoby|Sidou|F|1952-05-15|1988-07-21|5|54518|1.82|true|209506065|Architect;Tech Lead;Python Developer;Senior Team Lead|false;false;true;false|11.21;-2.30;2.22;-5.44
10073|Shir|McClurg|M|1954-02-23|1991-12-01|4|32568|1.66|false|314930367|Principal Support Engineer;Python Developer;Junior Developer;Purchase Manager|true;false|-5.67
10074|Mokhtar|Bernatsky|F|1955-08-28|1990-08-13|5|38992|1.64|true|382397583|Senior Python Developer;Python Developer|true;false;false;true|6.70;1.98;-5.64;2.96
10075|Gao|Dolinsky|F|1960-03-09|1987-03-19|5|51956|1.94|false|370238919|Purchase Manager|true|9.63;-3.29;8.42
10076|Erez|Ritzmann|F|1952-06-13|1985-07-09|3|62405|1.83|false|376240317|Architect;Senior Python Developer|false|-6.90;-1.30;8.75
10077|Mona|Azuma|M|1964-04-18|1990-03-02|5|46595|1.68|false|351960222|Internship||-0.01
10078|Danel|Mondadori|F|1959-12-25|1987-05-26|2|69904|1.81|true|377116038|Architect;Principal Support Engineer;Internship|true|-7.88;9.98;12.52
10079|Kshitij|Gils|F|1961-10-05|1986-03-27|2|32263|1.59|false|320953330||false|7.58
10080|Premal|Baek|M|1957-12-03|1985-11-19|5|52833|1.80|false|239266137|Senior Python Developer||-4.35;7.36;5.56
10081|Zhongwei|Rosen|M|1960-12-17|1986-10-30|2|50128|1.44|true|321375511|Accountant;Internship|false;false;false|
10082|Parviz|Lortz|M|1963-09-09|1990-01-03|4|49818|1.61|false|232522994|Principal Support Engineer|false|1.19;-3.39
10083|Vishv|Zockler|M|1959-07-23|1987-03-31|1|39110|1.42|false|331236443|Head Human Resources||
10084|Tuval|Kalloufi|M|1960-05-25|1995-12-15|1|28035|1.51|true|359067056|Principal Support Engineer|false|
10085|Kenroku|Malabarba|M|1962-11-07|1994-04-09|5|35742|2.01|true|353404008|Senior Python Developer;Business Analyst;Tech Lead;Accountant||11.67;6.75;8.40
10086|Somnath|Foote|M|1962-11-19|1990-02-16|1|68547|1.74|true|328580163|Senior Python Developer|false;true|13.61
10087|Xinglin|Eugenio|F|1959-07-23|1986-09-08|5|32272|1.74|true|305782871|Junior Developer;Internship|false;false|-2.05
10088|Jungsoon|Syrzycki|F|1954-02-25|1988-09-02|5|39638|1.91|false|330714423|Reporting Analyst;Business Analyst;Tech Lead|true|
10089|Sudharsan|Flasterstein|F|1963-03-21|1986-08-12|4|43602|1.57|true|232951673|Junior Developer;Accountant|true;false;false;false|
10090|Kendra|Hofting|M|1961-05-30|1986-03-14|2|44956|2.03|true|212460105||false;false;false;true|7.15;-1.85;3.60
10091|Amabile|Gomatam|M|1955-10-04|1992-11-18|3|38645|2.09|true|242582807|Reporting Analyst;Python Developer|true;true;false;false|-9.23;7.50;5.85;5.19
10092|Valdiodio|Niizuma|F|1964-10-18|1989-09-22|1|25976|1.75|false|313407352|Junior Developer;Accountant|false;false;true;true|8.78;0.39;-6.77;8.30
10093|Sailaja|Desikan|M|1964-06-11|1996-11-05|3|45656|1.69|false|315904921|Reporting Analyst;Tech Lead;Principal Support Engineer;Purchase Manager||-0.88
10094|Arumugam|Ossenbruggen|F|1957-05-25|1987-04-18|5|66817|2.10|false|332920135|Senior Python Developer;Principal Support Engineer;Accountant|true;false;true|2.22;7.92
10095|Hilari|Morton|M|1965-01-03|1986-07-15|4|37702|1.55|false|321850475||true;true;false;false|-3.93;-6.66
10096|Jayson|Mandell|M|1954-09-16|1990-01-14|4|43889|1.94|false|204381503|Architect;Reporting Analyst|false;false;false|
10097|Remzi|Waschkowski|M|1952-02-27|1990-09-15|3|71165|1.53|false|206258084|Reporting Analyst;Tech Lead|true;false|-1.12
10098|Sreekrishna|Servieres|F|1961-09-23|1985-05-13|4|44817|2.00|false|272392146|Architect;Internship;Senior Team Lead|false|-2.83;8.31;4.38
10099|Valter|Sullins|F|1956-05-25|1988-10-18|2|73578|1.81|true|377713748||true;true|10.71;14.26;-8.78;-3.98
10100|Hironobu|Haraldson|F|1953-04-21|1987-09-21|4|68431|1.77|true|223910853|Purchase Manager|false;true;true;false|13.97;-7.49
"""


def _mv(text: str, convert: Callable[[str], Any]) -> list[Any] | None:
    """A `;`-separated multi-value cell; empty means no value (null)."""
    return [convert(part) for part in text.split(";")] if text else None


def employees_rows() -> list[dict[str, Any]]:
    """The 100 rows of Elastic's `employees` test index as Python values."""
    rows: list[dict[str, Any]] = []
    for line in EMPLOYEES_TEXT.splitlines():
        (emp_no, first, last, gender, birth, hire, languages, salary, height, still_hired,
         worked, positions, rehired, change) = line.split("|")  # fmt: skip
        rows.append(
            {
                "_id": emp_no,
                "emp_no": int(emp_no),
                "first_name": first or None,
                "last_name": last,
                "gender": gender or None,
                "birth_date": birth or None,
                "hire_date": hire,
                "languages": int(languages) if languages else None,
                "salary": int(salary),
                "height": float(height),
                "still_hired": still_hired == "true",
                "avg_worked_seconds": int(worked),
                "job_positions": _mv(positions, str),
                "is_rehired": _mv(rehired, lambda b: b == "true"),
                "salary_change": _mv(change, float),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# sample_data: the small logs index of the reference's getting-started pages
# ---------------------------------------------------------------------------------------------

SAMPLE_DATA_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "client_ip": {"type": "ip"},
        "event_duration": {"type": "long"},
        "message": {"type": "keyword"},
    }
}

SAMPLE_DATA_ROWS: list[dict[str, Any]] = [
    {"@timestamp": "2023-10-23T13:55:01.543Z", "client_ip": "172.21.3.15",
     "message": "Connected to 10.1.0.1", "event_duration": 1756467},
    {"@timestamp": "2023-10-23T13:53:55.832Z", "client_ip": "172.21.3.15",
     "message": "Connection error", "event_duration": 5033755},
    {"@timestamp": "2023-10-23T13:52:55.015Z", "client_ip": "172.21.3.15",
     "message": "Connection error", "event_duration": 8268153},
    {"@timestamp": "2023-10-23T13:51:54.732Z", "client_ip": "172.21.3.15",
     "message": "Connection error", "event_duration": 725448},
    {"@timestamp": "2023-10-23T13:33:34.937Z", "client_ip": "172.21.0.5",
     "message": "Disconnected", "event_duration": 1232382},
    {"@timestamp": "2023-10-23T12:27:28.948Z", "client_ip": "172.21.2.113",
     "message": "Connected to 10.1.0.2", "event_duration": 2764889},
    {"@timestamp": "2023-10-23T12:15:03.360Z", "client_ip": "172.21.2.162",
     "message": "Connected to 10.1.0.3", "event_duration": 3450233},
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# languages_lookup: the lookup index of the LOOKUP JOIN reference examples
# ---------------------------------------------------------------------------------------------

LANGUAGES_LOOKUP_MAPPING: dict[str, Any] = {
    "properties": {
        "language_code": {"type": "integer"},
        "language_name": {"type": "keyword"},
    }
}

LANGUAGES_LOOKUP_ROWS: list[dict[str, Any]] = [
    {"language_code": 1, "language_name": "English"},
    {"language_code": 2, "language_name": "French"},
    {"language_code": 3, "language_name": "Spanish"},
    {"language_code": 4, "language_name": "German"},
]


# ---------------------------------------------------------------------------------------------
# app-logs-*: two small log indices with an object field, a text field and nulls
# ---------------------------------------------------------------------------------------------

APP_LOGS_MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "level": {"type": "keyword"},
        "message": {"type": "text"},
        "latency_ms": {"type": "double"},
        "ok": {"type": "boolean"},
    }
}

APP_LOGS_A_ROWS: list[dict[str, Any]] = [
    {"_id": "a1", "@timestamp": "2026-11-25T15:00:00Z", "host.name": "web-1", "level": "INFO",
     "message": "request served", "latency_ms": 12.5, "ok": True},
    {"_id": "a2", "@timestamp": "2026-11-25T15:05:00Z", "host.name": "web-1", "level": "ERROR",
     "message": "database connection timeout", "latency_ms": 950.0, "ok": False},
    {"_id": "a3", "@timestamp": "2026-11-25T15:10:00Z", "host.name": "web-2", "level": "WARN",
     "message": "slow request", "latency_ms": None, "ok": None},
]  # fmt: skip

APP_LOGS_B_ROWS: list[dict[str, Any]] = [
    {"_id": "b1", "@timestamp": "2026-11-25T15:02:00Z", "host.name": "web-3", "level": "ERROR",
     "message": "payment gateway timeout error", "latency_ms": 1200.0, "ok": False},
    {"_id": "b2", "@timestamp": "2026-11-25T15:07:00Z", "host.name": None, "level": "INFO",
     "message": "cache warmed", "latency_ms": 3.0, "ok": True},
]  # fmt: skip


# host_owners: a lookup index whose keys repeat (one log line may match several owners) and
# which shares a non-key field (`level`) with app-logs-*, to show which side wins.
HOST_OWNERS_MAPPING: dict[str, Any] = {
    "properties": {
        "host": {"properties": {"name": {"type": "keyword"}}},
        "owner": {"type": "keyword"},
        "level": {"type": "keyword"},
    }
}

HOST_OWNERS_ROWS: list[dict[str, Any]] = [
    {"host.name": "web-1", "owner": "alice", "level": "gold"},
    {"host.name": "web-1", "owner": "bob", "level": "silver"},
    {"host.name": "web-2", "owner": "carol", "level": "bronze"},
]


def build_reference_catalog() -> MemoryCatalog:
    """The catalog every reference test reads: employees, sample_data, lookups and logs."""
    catalog = MemoryCatalog()
    catalog.add(make_index("employees", EMPLOYEES_MAPPING, employees_rows()))
    catalog.add(make_index("sample_data", SAMPLE_DATA_MAPPING, SAMPLE_DATA_ROWS))
    catalog.add(make_index("languages_lookup", LANGUAGES_LOOKUP_MAPPING, LANGUAGES_LOOKUP_ROWS))
    catalog.add(make_index("app-logs-a", APP_LOGS_MAPPING, APP_LOGS_A_ROWS))
    catalog.add(make_index("app-logs-b", APP_LOGS_MAPPING, APP_LOGS_B_ROWS))
    catalog.add(make_index("host_owners", HOST_OWNERS_MAPPING, HOST_OWNERS_ROWS))
    return catalog


CatalogBuilder = Callable[[Mapping[str, tuple[Mapping[str, Any], Iterable[Row]]]], MemoryCatalog]


@pytest.fixture(scope="session")
def build_catalog() -> CatalogBuilder:
    """`build_catalog({name: (mapping, rows)})`: a fresh catalog of indices built by `make_index`."""

    def build(indices: Mapping[str, tuple[Mapping[str, Any], Iterable[Row]]]) -> MemoryCatalog:
        catalog = MemoryCatalog()
        for name, (mapping, rows) in indices.items():
            catalog.add(make_index(name, mapping, rows))
        return catalog

    return build


QueryRunner = Callable[..., EsqlResult]


@pytest.fixture(scope="session")
def reference_catalog() -> MemoryCatalog:
    """The shared, read-only reference catalog (built once per test session)."""
    return build_reference_catalog()


@pytest.fixture(scope="session")
def q(reference_catalog: MemoryCatalog) -> QueryRunner:
    """`q(query, *positional, **named) -> EsqlResult` over the reference catalog at FIXED_NOW.

    Positional values bind `?` / `?1`; keyword values bind `?name`.
    """

    def run(query: str, *positional: Any, **named: Any) -> EsqlResult:
        if positional and named:
            raise ValueError("pass either positional or named parameters, not both")
        params: list[Any] | dict[str, Any] | None = (
            list(positional) if positional else dict(named) if named else None
        )
        return run_query(query, reference_catalog, params=params, now=FIXED_NOW)

    return run


def _align(actual: Any, expected: Any) -> Any:
    """`actual` with each float replaced by the expected float when they agree to 1e-9.

    Floats that differ only in the last bits of a sum (summation order) count as equal; an
    int where a double was expected (or the reverse) stays different, because ES prints
    `2.0` for a double and `2` for an integer.
    """
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [_align(a, e) for a, e in zip(actual, expected, strict=True)]
    if (
        type(actual) is float
        and type(expected) is float
        and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
    ):
        return expected
    return actual


def _typed(value: Any) -> Any:
    """Values tagged with their Python type, so `1 == 1.0 == True` cannot hide a type error."""
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if isinstance(value, bool | int | float):
        return (type(value).__name__, value)
    return value


Checker = Callable[..., EsqlResult]


@pytest.fixture(scope="session")
def check(q: QueryRunner) -> Checker:
    """`check(query, columns, values, *positional, **named)`: run and compare the whole result.

    `columns` is a list of `(name, type)` pairs and `values` the full list of rows, exactly as
    Elasticsearch's `POST /_query` would answer. Returns the result for further checks.
    """

    def run(
        query: str,
        columns: list[tuple[str, str]],
        values: list[list[Any]],
        *positional: Any,
        **named: Any,
    ) -> EsqlResult:
        result = q(query, *positional, **named)
        assert [(c.name, c.type) for c in result.columns] == columns
        assert _typed(_align(result.values, values)) == _typed(values)
        return result

    return run
