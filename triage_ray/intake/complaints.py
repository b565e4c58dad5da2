"""The chief-complaint table behind the generator: what patients come with and where they go.

Each `Complaint` is a presenting problem with its typical acuity, the services it is routed to
(and how a patient's history shifts that routing), the physiological pattern it deranges, and the
phrases nurses type for it. Acuities are relative (a standardised latent scale, not ESI levels);
prevalence weights are rough ED case-mix proportions. Both are design choices for a realistic
simulator, not figures from a data set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Direction of vital-sign derangement per unit of derangement, by physiological pattern.
# Units: hr beats/min, sbp mmHg, rr breaths/min, spo2 %, temp_c degrees C.
VITAL_PROFILES: dict[str, dict[str, float]] = {
    "cardiac": {"hr": 25.0, "sbp": -15.0, "rr": 4.0, "spo2": -3.0},
    "respiratory": {"hr": 15.0, "rr": 10.0, "spo2": -8.0},
    "septic": {"hr": 25.0, "sbp": -20.0, "rr": 6.0, "temp_c": 1.8},
    "neuro": {"hr": -5.0, "sbp": 35.0, "rr": 2.0},
    "haemorrhagic": {"hr": 30.0, "sbp": -30.0, "rr": 4.0},
    "hypovolaemic": {"hr": 22.0, "sbp": -18.0, "temp_c": 0.4},
    "pain": {"hr": 15.0, "sbp": 15.0, "rr": 3.0},
    "agitation": {"hr": 20.0, "sbp": 15.0, "rr": 4.0},
    "allergic": {"hr": 20.0, "sbp": -25.0, "rr": 6.0, "spo2": -4.0},
    "none": {"hr": 8.0, "rr": 1.0},
}


@dataclass(frozen=True)
class Complaint:
    name: str
    acuity: float  # relative latent severity (higher = sicker)
    weight: float  # relative prevalence among ED arrivals
    routes: dict[str, float]  # specialty -> base routing weight
    phrases: tuple[str, ...]  # ways the complaint is written (synonyms, abbreviations)
    profile: str  # key of VITAL_PROFILES
    pain: float  # typical pain score, 0-10
    duration_h: float  # typical hours since onset
    assoc: tuple[str, ...] = ()  # associated symptoms that may be appended
    # routing multipliers by history: condition -> {specialty: multiplier}; conditions are
    # comorbidity names or "age>=50"
    route_mods: dict[str, dict[str, float]] = field(default_factory=dict)
    # prevalence multipliers by history (comorbidity name or "age>=65" / "age<18")
    prevalence_mods: dict[str, float] = field(default_factory=dict)
    female_only: bool = False
    requires: str | None = None  # a comorbidity the complaint needs (e.g. pregnancy)


def _c(name: str, acuity: float, weight: float, routes: dict[str, float], phrases: list[str],
       profile: str, pain: float, duration_h: float, assoc: list[str] | None = None,
       **kw: object) -> Complaint:
    return Complaint(name, acuity, weight, routes, tuple(phrases), profile, pain, duration_h,
                     tuple(assoc or ()), **kw)  # type: ignore[arg-type]


COMPLAINTS: tuple[Complaint, ...] = (
    _c("chest_pain", 1.0, 8, {"cardiology": .6, "gastroenterology": .2, "pulmonology": .2},
       ["chest pain", "cp", "c/p", "chest tightness", "pressure in chest", "chest discomfort",
        "pain in chest"], "cardiac", 6, 6,
       ["sob", "nausea", "sweating", "diaphoresis", "radiating to left arm", "jaw pain"],
       route_mods={"coronary_artery_disease": {"cardiology": 3}, "age>=50": {"cardiology": 2},
                   "copd": {"pulmonology": 3}},
       prevalence_mods={"coronary_artery_disease": 2.5, "age>=65": 1.5, "age<18": 0.2}),
    _c("palpitations", 0.0, 3, {"cardiology": .8, "psychiatry": .2},
       ["palpitations", "heart racing", "racing heart", "fluttering in chest", "palps",
        "irregular heartbeat"], "cardiac", 1, 12, ["dizziness", "anxious", "sob"],
       route_mods={"psychiatric_history": {"psychiatry": 3}}),
    _c("syncope", 0.6, 2.5, {"cardiology": .55, "neurology": .45},
       ["syncope", "fainted", "passed out", "syncopal episode", "blacked out", "loc"],
       "cardiac", 1, 2, ["dizziness", "fall", "hit head", "palpitations"],
       route_mods={"heart_failure": {"cardiology": 2}, "coronary_artery_disease": {"cardiology": 2}},
       prevalence_mods={"age>=65": 1.8}),
    _c("collapse", 2.6, 0.5, {"cardiology": .5, "neurology": .5},
       ["unresponsive", "found down", "collapsed", "cardiac arrest", "not breathing normally",
        "unconscious"], "cardiac", 0, 0.5, ["bystander cpr", "pale", "cyanotic"],
       prevalence_mods={"age>=65": 2.0, "age<18": 0.3}),
    _c("shortness_of_breath", 1.0, 6, {"pulmonology": .75, "cardiology": .25},
       ["shortness of breath", "sob", "dyspnea", "difficulty breathing", "cant catch breath",
        "trouble breathing", "breathless", "dib"], "respiratory", 2, 24,
       ["wheezing", "cough", "chest tightness", "leg swelling"],
       route_mods={"heart_failure": {"cardiology": 4}, "copd": {"pulmonology": 2},
                   "asthma": {"pulmonology": 2}},
       prevalence_mods={"copd": 3, "heart_failure": 3, "asthma": 2, "age>=65": 1.5}),
    _c("cough", -0.6, 4, {"pulmonology": .7, "infectious_disease": .3},
       ["cough", "coughing", "productive cough", "dry cough", "persistent cough"],
       "respiratory", 1, 96, ["fever", "sputum", "runny nose", "sore throat"],
       route_mods={"immunosuppression": {"infectious_disease": 3}}, prevalence_mods={"copd": 2}),
    _c("asthma_exacerbation", 0.7, 2, {"pulmonology": 1.0},
       ["asthma attack", "asthma exacerbation", "wheezing", "wheeze", "inhaler not helping"],
       "respiratory", 2, 8, ["sob", "chest tightness", "cough"], prevalence_mods={"asthma": 10}),
    _c("hemoptysis", 0.6, 0.6, {"pulmonology": .8, "infectious_disease": .2},
       ["coughing up blood", "hemoptysis", "haemoptysis", "blood in sputum"],
       "haemorrhagic", 2, 24, ["cough", "weight loss", "fever"], prevalence_mods={"cancer": 3}),
    _c("stroke_symptoms", 2.0, 1.5, {"neurology": 1.0},
       ["facial droop", "slurred speech", "weakness one side", "left sided weakness",
        "right sided weakness", "stroke symptoms", "cva symptoms", "numbness arm"],
       "neuro", 1, 2, ["confusion", "headache", "vision loss"],
       prevalence_mods={"hypertension": 2, "age>=65": 2.5, "age<18": 0.1}),
    _c("headache", -0.3, 5, {"neurology": .85, "ent": .15},
       ["headache", "ha", "h/a", "migraine", "head pain", "head ache"], "pain", 6, 24,
       ["nausea", "photophobia", "neck stiffness", "blurred vision", "vomiting"]),
    _c("seizure", 1.2, 1.5, {"neurology": .9, "psychiatry": .1},
       ["seizure", "fit", "convulsions", "sz", "seizure activity", "shaking episode"],
       "neuro", 1, 1, ["tongue bite", "incontinence", "confusion after"]),
    _c("dizziness", -0.4, 3, {"neurology": .55, "ent": .35, "cardiology": .1},
       ["dizziness", "dizzy", "vertigo", "room spinning", "lightheaded", "light headed"],
       "none", 0, 24, ["nausea", "ringing in ears", "unsteady"],
       route_mods={"age>=50": {"cardiology": 2}}),
    _c("abdominal_pain", 0.2, 8,
       {"gastroenterology": .45, "general_surgery": .4, "obstetrics_gynaecology": .15},
       ["abdominal pain", "abd pain", "stomach pain", "belly pain", "tummy ache", "rlq pain",
        "epigastric pain", "abdo pain"], "pain", 6, 24,
       ["nausea", "vomiting", "fever", "diarrhea", "constipation"],
       route_mods={"pregnancy": {"obstetrics_gynaecology": 6}, "age>=50": {"general_surgery": 1.5}}),
    _c("nausea_vomiting", -0.5, 4,
       {"gastroenterology": .8, "obstetrics_gynaecology": .1, "infectious_disease": .1},
       ["nausea and vomiting", "n/v", "vomiting", "throwing up", "nausea", "emesis"],
       "hypovolaemic", 3, 24, ["diarrhea", "abd pain", "cant keep fluids down"],
       route_mods={"pregnancy": {"obstetrics_gynaecology": 8}}),
    _c("gi_bleed", 1.4, 1, {"gastroenterology": .85, "general_surgery": .15},
       ["vomiting blood", "blood in stool", "melena", "black stools", "hematemesis",
        "rectal bleeding", "brbpr"], "haemorrhagic", 3, 12, ["dizziness", "weakness", "abd pain"],
       prevalence_mods={"age>=65": 1.5}),
    _c("diarrhea", -0.8, 2, {"gastroenterology": .7, "infectious_disease": .3},
       ["diarrhea", "diarrhoea", "loose stools", "watery stools"], "hypovolaemic", 3, 48,
       ["abd cramps", "fever", "vomiting"],
       route_mods={"immunosuppression": {"infectious_disease": 3}}),
    _c("limb_injury", -0.2, 6, {"orthopaedics": .9, "general_surgery": .1},
       ["ankle injury", "wrist injury", "fell on arm", "twisted ankle", "knee injury",
        "leg injury", "possible fracture", "arm pain after fall", "fx?"], "pain", 6, 6,
       ["swelling", "unable to bear weight", "deformity", "bruising"],
       prevalence_mods={"age<18": 1.8}),
    _c("back_pain", -0.6, 5, {"orthopaedics": .7, "urology": .15, "neurology": .15},
       ["back pain", "lower back pain", "lbp", "back ache", "backache"], "pain", 6, 72,
       ["radiating down leg", "numbness", "after lifting"], prevalence_mods={"age<18": 0.3}),
    _c("major_trauma", 2.2, 0.8, {"general_surgery": .6, "orthopaedics": .4},
       ["mvc", "motor vehicle collision", "rta", "high speed crash", "fall from height",
        "pedestrian struck", "stab wound", "gsw"], "haemorrhagic", 8, 1,
       ["head injury", "chest injury", "bleeding", "loc"]),
    _c("joint_pain", -1.0, 2, {"orthopaedics": .85, "infectious_disease": .15},
       ["joint pain", "knee pain", "shoulder pain", "hip pain", "swollen joint"], "pain", 5, 168,
       ["swelling", "stiffness", "redness"], prevalence_mods={"age>=65": 1.5}),
    _c("laceration", -0.8, 3, {"general_surgery": .6, "dermatology": .2, "orthopaedics": .2},
       ["laceration", "lac", "cut finger", "cut to hand", "wound", "cut on leg"], "pain", 4, 2,
       ["bleeding controlled", "needs stitches", "glass"]),
    _c("abscess", -0.5, 1.5, {"general_surgery": .6, "dermatology": .3, "infectious_disease": .1},
       ["abscess", "boil", "swollen lump", "infected cyst", "pus"], "septic", 5, 72,
       ["redness", "fever", "painful"], prevalence_mods={"diabetes": 2}),
    _c("flank_pain", 0.3, 2.5, {"urology": .85, "gastroenterology": .15},
       ["flank pain", "kidney stone", "renal colic", "loin pain", "side pain"], "pain", 8, 6,
       ["blood in urine", "vomiting", "pain radiating to groin"]),
    _c("urinary", -0.8, 2.5,
       {"urology": .65, "infectious_disease": .2, "obstetrics_gynaecology": .15},
       ["dysuria", "burning urination", "uti symptoms", "painful urination", "frequency",
        "cant pee", "urinary retention", "blood in urine"], "septic", 4, 48,
       ["fever", "flank pain", "frequency"],
       route_mods={"pregnancy": {"obstetrics_gynaecology": 4},
                   "chronic_kidney_disease": {"urology": 2}}),
    _c("pregnancy_bleeding", 1.0, 1.5, {"obstetrics_gynaecology": 1.0},
       ["vaginal bleeding", "pv bleeding", "bleeding in pregnancy", "pregnant and bleeding",
        "spotting"], "haemorrhagic", 5, 6, ["cramping", "abd pain", "dizziness"],
       female_only=True, requires="pregnancy", prevalence_mods={"pregnancy": 20}),
    _c("pelvic_pain", 0.0, 2, {"obstetrics_gynaecology": .75, "urology": .1, "general_surgery": .15},
       ["pelvic pain", "lower abd pain", "period pain", "ovarian pain", "pv discharge"],
       "pain", 6, 24, ["fever", "bleeding", "nausea"], female_only=True),
    _c("suicidal", 1.1, 1.5, {"psychiatry": 1.0},
       ["suicidal ideation", "si", "suicidal thoughts", "wants to kill self", "self harm",
        "thoughts of self harm"], "agitation", 0, 48,
       ["depressed", "has a plan", "hearing voices"], prevalence_mods={"psychiatric_history": 5}),
    _c("anxiety", -0.6, 2.5, {"psychiatry": .8, "cardiology": .2},
       ["anxiety", "panic attack", "anxious", "panic", "feeling overwhelmed"], "agitation", 1, 12,
       ["palpitations", "sob", "cant sleep"], prevalence_mods={"psychiatric_history": 4}),
    _c("agitation", 0.7, 1, {"psychiatry": .85, "neurology": .15},
       ["agitated", "aggressive behaviour", "psychosis", "hallucinations", "bizarre behaviour",
        "paranoid"], "agitation", 0, 72, ["not sleeping", "hearing voices", "police escort"],
       prevalence_mods={"psychiatric_history": 5}),
    _c("overdose", 1.8, 0.8, {"psychiatry": .7, "gastroenterology": .1, "neurology": .2},
       ["overdose", "od", "ingestion", "took too many pills", "intoxicated", "etoh intox"],
       "neuro", 0, 3, ["drowsy", "vomiting", "unknown substance"],
       route_mods={"psychiatric_history": {"psychiatry": 2}},
       prevalence_mods={"psychiatric_history": 4}),
    _c("rash", -1.1, 3, {"dermatology": .85, "infectious_disease": .15},
       ["rash", "itchy rash", "skin rash", "hives", "spots on skin", "red rash"], "none", 2, 72,
       ["itching", "fever", "spreading"],
       route_mods={"immunosuppression": {"infectious_disease": 3}}),
    _c("cellulitis", -0.3, 2, {"dermatology": .45, "infectious_disease": .35, "general_surgery": .2},
       ["cellulitis", "red swollen leg", "skin infection", "red hot leg", "infected wound"],
       "septic", 5, 72, ["fever", "spreading redness", "swelling"],
       route_mods={"diabetes": {"infectious_disease": 1.5}}, prevalence_mods={"diabetes": 2}),
    _c("burn", 0.3, 1, {"dermatology": .6, "general_surgery": .4},
       ["burn", "scald", "burn to hand", "burnt arm", "chemical burn"], "pain", 7, 2,
       ["blistering", "hot water", "cooking"]),
    _c("allergic_reaction", 1.3, 1, {"dermatology": .4, "ent": .3, "pulmonology": .3},
       ["allergic reaction", "anaphylaxis", "lip swelling", "throat swelling", "face swelling",
        "bee sting reaction"], "allergic", 2, 1, ["hives", "sob", "wheezing"]),
    _c("sore_throat", -1.2, 3, {"ent": .85, "infectious_disease": .15},
       ["sore throat", "st", "throat pain", "painful swallowing", "tonsillitis"], "septic", 4, 72,
       ["fever", "cough", "swollen glands"], prevalence_mods={"age<18": 1.5}),
    _c("ear_pain", -1.3, 2, {"ent": 1.0},
       ["ear pain", "earache", "ear ache", "otalgia", "ear discharge"], "none", 5, 48,
       ["fever", "hearing loss"], prevalence_mods={"age<18": 2}),
    _c("epistaxis", -0.2, 1.5, {"ent": 1.0},
       ["nosebleed", "nose bleed", "epistaxis", "bleeding from nose"], "haemorrhagic", 1, 2,
       ["on blood thinners", "wont stop"], prevalence_mods={"hypertension": 1.5}),
    _c("sinus", -1.0, 1.5, {"ent": .9, "infectious_disease": .1},
       ["sinus pain", "facial pain", "blocked nose", "sinusitis"], "none", 4, 120,
       ["headache", "fever", "green discharge"]),
    _c("fever", 0.3, 4, {"infectious_disease": .8, "pulmonology": .1, "urology": .1},
       ["fever", "fevers", "febrile", "high temp", "temp", "pyrexia", "chills"], "septic", 2, 48,
       ["chills", "body aches", "cough", "rigors"],
       route_mods={"immunosuppression": {"infectious_disease": 2},
                   "cancer": {"infectious_disease": 2}},
       prevalence_mods={"immunosuppression": 3, "age<18": 1.5}),
    _c("sepsis_like", 1.9, 1, {"infectious_disease": 1.0},
       ["fever and confusion", "rigors and confusion", "possible sepsis", "febrile and lethargic",
        "?sepsis"], "septic", 2, 24, ["low bp", "not eating", "confused"],
       prevalence_mods={"immunosuppression": 4, "cancer": 2, "age>=65": 2}),
    _c("flu_like", -0.9, 3, {"infectious_disease": .75, "pulmonology": .25},
       ["flu like symptoms", "flu sx", "body aches", "cold symptoms", "covid symptoms", "ili"],
       "septic", 3, 72, ["fever", "cough", "sore throat", "fatigue"]),
)

# Text modifiers by expressed severity: what pushes a triage nurse up or down a level.
SEVERE_MODIFIERS: tuple[str, ...] = (
    "severe", "sudden onset", "worst ever", "crushing", "acute", "10/10", "excruciating",
    "unable to walk", "altered", "rapidly worsening",
)
MILD_MODIFIERS: tuple[str, ...] = (
    "mild", "intermittent", "on and off", "minor", "chronic", "slight", "ongoing", "stable",
    "wants check up", "med refill",
)
