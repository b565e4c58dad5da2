"""The one study table every X-ray source returns, and the ingested shard layout.

Every loader (NIH, CheXpert, generic CSV, generated) returns a pandas DataFrame with STUDY_COLUMNS;
`ingest` turns it into Parquet shards with SHARD_COLUMNS that Ray Data streams to training/inference.
"""

# NIH ChestX-ray14's 14 finding classes, in the order of its label file.
NIH_FINDINGS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
NO_FINDING = "No Finding"

# study table (pandas) columns
STUDY_COLUMNS: tuple[str, ...] = (
    "study_id",  # str, unique per image/study
    "patient_id",  # str; splits never put one patient in two splits
    "view",  # "PA" | "AP" | "LATERAL" | "" (unknown)
    "path",  # str, absolute path of the image file
    "label",  # int8: 1 abnormal, 0 normal, -1 unknown (unlabeled pile)
    "findings",  # str: "|"-joined finding names, "" when normal/unknown
    "source",  # "generated" | "nih" | "chexpert" | "generic"
)

# Optional study-table columns a source fills when its table states them (NIH, CheXpert, DICOM, a
# generic CSV with age/sex columns): age in years (float, NaN unknown; `data.age` parses it) and sex
# ("F" / "M" / ""). The intended-use gate needs age: without it no study is a verified adult.
DEMOGRAPHIC_COLUMNS: tuple[str, ...] = ("age", "sex")

# ingested Parquet shard columns
SHARD_COLUMNS: tuple[str, ...] = (
    "study_id", "patient_id", "label", "split",
    "findings",  # str: the written findings, "|"-joined (per-finding supervision's targets)
    "image",  # binary: H*W uint8 grayscale, row-major, H == W == the shard's image_size
)
SHARD_META_IMAGE_SIZE = b"triage_ray.image_size"  # Parquet key-value metadata, ascii int
INGEST_REPORT = "ingest_report.json"  # beside the shards: counts in/out/skipped and the files

# Optional study-table column: the source's own patient-level split when it ships one
# (NIH train_val_list.txt / test_list.txt -> "trainval" | "test"; "" otherwise).
OFFICIAL_SPLIT = "official_split"

# Label values a study table may hold (see "label" above).
LABEL_ABNORMAL, LABEL_NORMAL, LABEL_UNKNOWN = 1, 0, -1

# Ground truth of a generated study may name a finding outside NIH's 14: the Google 2019 panel
# (Majkowska et al., Radiology 2019) also read fractures, which NIH's labels never mention.
GENERATED_FINDINGS: tuple[str, ...] = (*NIH_FINDINGS, "Fracture")

# NIH ChestX-ray14 label file columns, exactly as in Data_Entry_2017_v2020.csv.
NIH_CSV_COLUMNS: tuple[str, ...] = (
    "Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender",
    "View Position", "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]",
)

# ground_truth.csv of a generated tree: one row per study.
GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "Image Index",
    "true_findings",  # "|"-joined, "" when truly normal (may include "Fracture")
    "conspicuity",  # "|"-joined floats in (0, 1], aligned with true_findings
    "true_abnormal",  # 0/1
    "noisy_label",  # 0/1: the label written to Data_Entry_2017.csv (NIH-style, NLP-mined)
    "nih_source_image",  # the real NIH row whose metadata and labels this study copies
)
