"""The intake-form record: columns, label sets and plausibility ranges shared by every stage.

A record is one emergency-department arrival as a triage nurse writes it down. The generator and
the real-data loader both return a pandas DataFrame with RECORD_COLUMNS, so everything downstream
is the same for generated and real records; `source` says which one a row came from.
"""

from __future__ import annotations

# Urgency tiers, most urgent first (label 0). Four tiers in the spirit of ESI / KTAS, with their
# lowest two levels merged (ESI 4 and 5 both need at most one resource).
URGENCY_TIERS: tuple[str, ...] = ("immediate", "emergent", "urgent", "non_urgent")

# Routed sub-specialty (12 classes): the service the record is referred to after triage.
SPECIALTIES: tuple[str, ...] = (
    "cardiology", "pulmonology", "neurology", "gastroenterology", "orthopaedics",
    "general_surgery", "urology", "obstetrics_gynaecology", "psychiatry", "dermatology", "ent",
    "infectious_disease",
)
TASKS: dict[str, tuple[str, ...]] = {"urgency": URGENCY_TIERS, "specialty": SPECIALTIES}
UNKNOWN_LABEL = -1  # a record without this task's label (real data sets rarely carry both)

SEXES: tuple[str, ...] = ("F", "M", "U")  # U: not recorded
ARRIVAL_MODES: tuple[str, ...] = ("walk_in", "ambulance", "police", "transfer")
COMORBIDITIES: tuple[str, ...] = (
    "hypertension", "diabetes", "coronary_artery_disease", "heart_failure", "copd", "asthma",
    "chronic_kidney_disease", "cancer", "pregnancy", "psychiatric_history", "immunosuppression",
)
COMORBIDITY_SEP = "|"

# Numeric fields and the values a record may hold. These are plausibility limits for data
# cleaning (values outside them are entry errors, not patients), deliberately wider than any
# triage threshold so real extremes survive; a design choice of this project, not a clinical norm.
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "age": (0.0, 120.0),  # years
    "hr": (20.0, 250.0),  # heart rate, beats/min
    "sbp": (40.0, 300.0),  # systolic blood pressure, mmHg
    "dbp": (20.0, 200.0),  # diastolic blood pressure, mmHg
    "rr": (4.0, 70.0),  # respiratory rate, breaths/min
    "spo2": (50.0, 100.0),  # peripheral oxygen saturation, %
    "temp_c": (30.0, 44.0),  # body temperature, degrees Celsius
    "pain": (0.0, 10.0),  # numeric rating scale, 0-10
    "symptom_duration_h": (0.0, 24.0 * 365 * 5),  # hours since onset (up to 5 years)
    "prior_visits": (0.0, 100.0),  # ED visits in the previous 12 months
}
VITALS: tuple[str, ...] = ("hr", "sbp", "dbp", "rr", "spo2", "temp_c")

RECORD_COLUMNS: tuple[str, ...] = (
    "record_id",  # int64, unique
    "age", "sex", "arrival_mode",
    *VITALS,  # float64, NaN when not recorded
    "pain", "symptom_duration_h",  # float64, NaN when not recorded
    "comorbidities",  # str, COMORBIDITY_SEP-joined names from COMORBIDITIES, "" when none
    "prior_visits",  # float64 (count), NaN when not recorded
    "chief_complaint",  # str, free text as typed
    "urgency",  # int64 index into URGENCY_TIERS, UNKNOWN_LABEL when absent
    "specialty",  # int64 index into SPECIALTIES, UNKNOWN_LABEL when absent
    "source",  # "generated" or the file name a real record came from
)
GENERATED = "generated"
