"""The tool registry: the one description of every tool, agent, file slot and parameter.

The UI, the CLI, validation and the runner all read this registry, so what a user can pick,
what gets checked and what runs are always the same thing. Agents whose work has not been
built yet are listed as unavailable (with the reason) and cannot be selected.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from core.agents.base import Agent
from core.errors import ValidationError

TABLE_EXTENSIONS = ("csv", "tsv", "txt", "xlsx")
NOT_YET_BUILT = "Not available yet: this agent is still being built."


@dataclass(frozen=True)
class AgentSpec:
    id: str
    name: str
    description: str
    credit_cost: int
    default: bool = True
    implementation: str | None = None  # "module:Class"; None while the agent is not built
    requires: tuple[str, ...] = ()  # agents of the same tool that must run too (checked by create_task)

    @property
    def available(self) -> bool:
        return self.implementation is not None

    def load(self) -> Agent:
        if self.implementation is None:
            raise ValidationError(f"The agent '{self.id}' is not available yet.", code="AGENT_UNAVAILABLE")
        module_name, class_name = self.implementation.split(":")
        return getattr(importlib.import_module(module_name), class_name)()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "credit_cost": self.credit_cost,
            "default": self.default and self.available,
            "available": self.available,
            "unavailable_reason": None if self.available else NOT_YET_BUILT,
            "requires": list(self.requires),
        }


@dataclass(frozen=True)
class FileSlot:
    key: str
    label: str
    required: bool
    extensions: tuple[str, ...] = TABLE_EXTENSIONS
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "required": self.required,
            "extensions": list(self.extensions),
            "help": self.help,
        }


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str  # "int" | "float" | "bool" | "string" | "choice"
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any) -> Any:
        """The value in this parameter's type, or a ValidationError naming the parameter."""
        try:
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                result: Any = int(str(value).strip())
            elif self.type == "float":
                result = float(str(value).strip())
            elif self.type == "bool":
                text = str(value).strip().lower()
                if text not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError
                result = text in {"true", "1", "yes"}
            else:
                result = "" if value is None else str(value)
        except ValueError:
            raise ValidationError(
                f"Parameter '{self.name}' must be a {self.type}; got {value!r}.", code="INVALID_PARAMETER"
            ) from None
        if self.choices and result not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ValidationError(
                f"Parameter '{self.name}' must be one of: {allowed}; got {value!r}.", code="INVALID_PARAMETER"
            )
        if self.minimum is not None and result < self.minimum:
            raise ValidationError(
                f"Parameter '{self.name}' must be at least {self.minimum}; got {value!r}.",
                code="INVALID_PARAMETER",
            )
        if self.maximum is not None and result > self.maximum:
            raise ValidationError(
                f"Parameter '{self.name}' must be at most {self.maximum}; got {value!r}.",
                code="INVALID_PARAMETER",
            )
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "choices": list(self.choices),
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


@dataclass(frozen=True)
class ToolSpec:
    id: str
    name: str
    description: str
    agents: tuple[AgentSpec, ...]
    file_slots: tuple[FileSlot, ...]
    parameters: tuple[ParamSpec, ...] = field(default_factory=tuple)
    # the longest one run may take on an RQ worker before it fails with TIMEOUT
    job_timeout_seconds: int = 3600
    # "module:function" building tool-level outputs after the agents (see core.runner.ToolOutputs)
    finisher: str | None = None

    def finish(self, context: Any) -> Any:
        """The tool-level outputs of a run (None for tools without a finisher)."""
        if self.finisher is None:
            return None
        module_name, function_name = self.finisher.split(":")
        return getattr(importlib.import_module(module_name), function_name)(context)

    def agent(self, agent_id: str) -> AgentSpec:
        for spec in self.agents:
            if spec.id == agent_id:
                return spec
        known = ", ".join(a.id for a in self.agents)
        raise ValidationError(
            f"Unknown agent '{agent_id}' for {self.id}. Known agents: {known}.", code="UNKNOWN_AGENT"
        )

    def slot(self, key: str) -> FileSlot:
        for slot in self.file_slots:
            if slot.key == key:
                return slot
        known = ", ".join(s.key for s in self.file_slots)
        raise ValidationError(
            f"Unknown file slot '{key}' for {self.id}. Known slots: {known}.", code="UNKNOWN_FILE_SLOT"
        )

    @property
    def available(self) -> bool:
        return any(a.available for a in self.agents)

    def default_agents(self) -> list[str]:
        return [a.id for a in self.agents if a.default and a.available]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "available": self.available,
            "agents": [a.to_dict() for a in self.agents],
            "file_slots": [s.to_dict() for s in self.file_slots],
            "parameters": [p.to_dict() for p in self.parameters],
        }


_READING_PARAMETERS = (
    ParamSpec("sheet", "string", "", "Excel files: the sheet to read. Leave empty for the first sheet."),
    ParamSpec(
        "delimiter",
        "choice",
        "auto",
        "CSV files: the character between fields. 'auto' detects it from the file.",
        choices=("auto", ",", ";", "\t", "|"),
    ),
    ParamSpec(
        "encoding",
        "choice",
        "auto",
        "CSV files: the text encoding. 'auto' detects it (UTF-8, UTF-16, Latin-1 and others).",
        choices=("auto", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"),
    ),
)

_PRIMARY = FileSlot("primary", "Your data file", True, help="A CSV or Excel (.xlsx) file with a header row.")

PROFILE = ToolSpec(
    id="profile-my-data",
    name="Profile my data",
    description="See what is in your file: types, missing values, distributions, outliers, "
    "duplicates, patterns, relationships and a quality score, with alerts in plain English.",
    agents=(
        AgentSpec(
            "types",
            "Types and meanings",
            "Works out what each column holds (numbers, dates, emails, phone numbers, codes…) "
            "and points out values that do not fit.",
            1,
            implementation="core.agents.profile.types:TypesAgent",
        ),
        AgentSpec(
            "completeness",
            "Missing values",
            "Counts empty cells and disguised blanks such as 'N/A', 'null' or '-' in every column.",
            1,
            implementation="core.agents.profile.completeness:CompletenessAgent",
        ),
        AgentSpec(
            "statistics",
            "Statistics and distributions",
            "Minimum, maximum, average, spread, most common values and a histogram for each column.",
            1,
            implementation="core.agents.profile.statistics:StatisticsAgent",
        ),
        AgentSpec(
            "uniqueness",
            "Uniqueness and duplicates",
            "Finds key columns, duplicate rows and near-duplicates.",
            2,
            implementation="core.agents.profile.uniqueness:UniquenessAgent",
        ),
        AgentSpec(
            "patterns",
            "Patterns and validity",
            "Checks value shapes, date formats, emails, phones, URLs and postcodes.",
            2,
            implementation="core.agents.profile.patterns:PatternsAgent",
        ),
        AgentSpec(
            "outliers",
            "Outliers",
            "Finds unusual numbers and rare categories, row by row.",
            2,
            implementation="core.agents.profile.outliers:OutliersAgent",
        ),
        AgentSpec(
            "relationships",
            "Relationships",
            "Correlations, associations and rules such as 'zip code decides city'.",
            3,
            implementation="core.agents.profile.relationships:RelationshipsAgent",
        ),
        AgentSpec(
            "sensitive",
            "Sensitive data",
            "Flags columns with personal data and masks them in the report.",
            2,
            implementation="core.agents.profile.sensitive:SensitiveAgent",
        ),
        AgentSpec(
            "quality_score",
            "Quality score",
            "A 0–100 score per column and for the file, showing where points were lost.",
            1,
            implementation="core.agents.profile.quality:QualityScoreAgent",
        ),
    ),
    file_slots=(_PRIMARY,),
    parameters=(
        *_READING_PARAMETERS,
        ParamSpec(
            "top_values", "int", 10, "How many most-common values to list per column.", minimum=1, maximum=100
        ),
        ParamSpec(
            "histogram_bins",
            "int",
            20,
            "How many bars the histograms of numeric columns have.",
            minimum=2,
            maximum=200,
        ),
    ),
)

CLEAN = ToolSpec(
    id="clean-my-data",
    name="Clean my data",
    description="Get a cleaned copy of your file and a cell-by-cell log of every change, "
    "with uncertain fixes offered as suggestions instead of applied.",
    agents=(
        AgentSpec(
            "tidy_text",
            "Tidy text",
            "Trims spaces, removes invisible characters, unifies unicode forms and suggests one case "
            "where a column mostly uses one.",
            1,
            implementation="core.agents.clean.tidy_text:TidyTextAgent",
        ),
        AgentSpec(
            "missing_values",
            "Missing values",
            "Turns disguised blanks such as 'N/A' into real blanks where the column treats them as "
            "blanks; fills blanks only when you ask.",
            1,
            implementation="core.agents.clean.missing_values:MissingValuesAgent",
        ),
        AgentSpec(
            "types_formats",
            "Types and formats",
            "Unifies numbers stored as text, dates, times, booleans, phones, emails and countries.",
            2,
            implementation="core.agents.clean.types_formats:TypesFormatsAgent",
        ),
        AgentSpec(
            "category_variants",
            "Category variants",
            "Merges different spellings of the same category into the usual one.",
            2,
            implementation="core.agents.clean.category_variants:CategoryVariantsAgent",
        ),
        AgentSpec(
            "dependency_repair",
            "Dependency repair",
            "Repairs values that break rules such as zip → city, and resolves disagreeing sources by "
            "how reliable each one is.",
            3,
            implementation="core.agents.clean.dependency_repair:DependencyRepairAgent",
        ),
        AgentSpec(
            "duplicates",
            "Duplicates",
            "Removes or flags duplicate rows, listing each one.",
            1,
            implementation="core.agents.clean.duplicates:DuplicatesAgent",
        ),
        AgentSpec(
            "outliers",
            "Outliers",
            "Flags unusual values; caps or blanks them when you ask.",
            1,
            implementation="core.agents.clean.outliers:OutliersAgent",
        ),
    ),
    file_slots=(_PRIMARY,),
    parameters=(
        *_READING_PARAMETERS,
        ParamSpec(
            "confidence_threshold",
            "float",
            0.8,
            "Changes the tool is at least this sure of are applied; the others are listed in "
            "suggestions.csv for you to review.",
            minimum=0.0,
            maximum=1.0,
        ),
        ParamSpec(
            "missing_marker",
            "string",
            "",
            "What disguised blanks such as 'N/A' become. Empty = a real blank.",
        ),
        ParamSpec(
            "impute",
            "choice",
            "none",
            "Fill blanks: not at all, with the column's median (numbers), its most common value, or a "
            "constant.",
            choices=("none", "median", "mode", "constant"),
        ),
        ParamSpec("impute_value", "string", "", "The constant used when 'impute' is 'constant'."),
        ParamSpec(
            "date_format",
            "choice",
            "majority",
            "Dates are written in the column's most common format, or as ISO (2024-01-31).",
            choices=("majority", "iso"),
        ),
        ParamSpec(
            "phone_format",
            "choice",
            "auto",
            "Phones written one way: 'auto' writes the odd ones like most of the column, 'e164' "
            "writes all as E.164 (+14155550123), 'keep' leaves them.",
            choices=("auto", "e164", "keep"),
        ),
        ParamSpec(
            "phone_region",
            "string",
            "auto",
            "The country of phone numbers written without a country code (two letters such as US or GB); "
            "'auto' detects it.",
        ),
        ParamSpec(
            "country_format",
            "choice",
            "auto",
            "Country names become ISO codes: 'auto' where the column mostly uses codes already, "
            "'iso2' or 'iso3' always, 'keep' never.",
            choices=("auto", "iso2", "iso3", "keep"),
        ),
        ParamSpec(
            "duplicates",
            "choice",
            "remove",
            "Duplicate rows are removed from the cleaned file (and listed) or only flagged.",
            choices=("remove", "flag"),
        ),
        ParamSpec(
            "outlier_action",
            "choice",
            "flag",
            "Unusual numbers are only flagged, capped to the usual range, or blanked.",
            choices=("flag", "cap", "blank"),
        ),
        ParamSpec(
            "source_column",
            "string",
            "auto",
            "The column naming where each record came from, when several sources report the same things; "
            "'auto' finds it, empty turns source weighing off.",
        ),
    ),
    finisher="core.agents.clean.outputs:finish",
)

MASTER = ToolSpec(
    id="master-my-data",
    name="Master my data",
    description="Find the records that describe the same person, company or thing, within and "
    "across files, and merge them into golden records with their provenance.",
    agents=(
        AgentSpec(
            "standardise",
            "Standardise for matching",
            "Pairs the columns of your files and builds match keys from names, phones, emails, "
            "dates, postcodes and addresses (your values are never changed).",
            1,
            implementation="core.agents.master.standardise:StandardiseAgent",
        ),
        AgentSpec(
            "match",
            "Match",
            "Scores record pairs with a probabilistic model built from your data, no set-up needed.",
            3,
            implementation="core.agents.master.match:MatchAgent",
            requires=("standardise",),
        ),
        AgentSpec(
            "cluster",
            "Cluster",
            "Groups matching records into entities with ids that stay the same on every run.",
            1,
            implementation="core.agents.master.cluster:ClusterAgent",
            requires=("standardise", "match"),
        ),
        AgentSpec(
            "golden_record",
            "Golden record",
            "Builds one best record per entity, saying which file and row each value came from.",
            2,
            implementation="core.agents.master.golden:GoldenRecordAgent",
            requires=("standardise", "match", "cluster"),
        ),
        AgentSpec(
            "reconcile",
            "Reconcile",
            "Lists fields that disagree between files, and records found in one file only.",
            1,
            implementation="core.agents.master.reconcile:ReconcileAgent",
            requires=("standardise", "match", "cluster"),
        ),
    ),
    file_slots=(
        _PRIMARY,
        FileSlot(
            "secondary",
            "A second source (optional)",
            False,
            help="Another file to match against the first one; its columns are paired with the first "
            "file's automatically.",
        ),
        FileSlot(
            "third",
            "A third source (optional)",
            False,
            help="One more file to match against the others.",
        ),
    ),
    parameters=(
        *_READING_PARAMETERS,
        ParamSpec(
            "match_threshold",
            "float",
            0.95,
            "How sure the model must be (match probability, 0.5-0.9999) before two records count as "
            "the same. Higher: fewer false merges, more missed ones.",
            minimum=0.5,
            maximum=0.9999,
        ),
        ParamSpec(
            "column_mapping",
            "string",
            "",
            "Leave empty to pair columns automatically. To override, write slot.column=primary_column, "
            "separated by ';' (e.g. 'secondary.fname=first_name; secondary.notes=' leaves notes out).",
        ),
        ParamSpec(
            "survivorship",
            "string",
            "",
            "Leave empty for rules chosen from each column's type. To override, write column=rule "
            "separated by ';'; rules: most_frequent, most_recent, most_complete, longest, source_priority.",
        ),
        ParamSpec(
            "recency_column",
            "string",
            "",
            "A date column (e.g. last_updated): with it, contact details take the most recent value.",
        ),
        ParamSpec(
            "source_priority",
            "string",
            "",
            "File slots in order of trust, e.g. 'secondary,primary'. Default: primary, secondary, third.",
        ),
    ),
)

TOOLS: dict[str, ToolSpec] = {tool.id: tool for tool in (PROFILE, CLEAN, MASTER)}


def get_tool(tool_id: str) -> ToolSpec:
    try:
        return TOOLS[tool_id]
    except KeyError:
        known = ", ".join(TOOLS)
        raise ValidationError(
            f"Unknown tool '{tool_id}'. Known tools: {known}.", code="UNKNOWN_TOOL"
        ) from None


def registry_as_dict() -> list[dict[str, Any]]:
    return [tool.to_dict() for tool in TOOLS.values()]
