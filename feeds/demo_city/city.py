"""The city definition (``cities/<name>.toml``) and the national vocabulary, as typed data.

A city is data: its districts with their real GB/T 2260 codes, the retired codes that old
records still carry, where its floating population comes from, its age structure and the
rates of its economy. Everything the simulator invents (streets, people, companies) is
drawn from these files, so a second city is a second TOML file, not code.
"""

from __future__ import annotations

import tomllib
import zlib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codes.credit_code import org_code_check_char, uscc_check_char

__all__ = [
    "Authority",
    "City",
    "Vocabulary",
    "authorities",
    "load_city",
    "load_vocabulary",
]

HERE = Path(__file__).parent
CITIES = HERE / "cities"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class District(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    abbr: str
    centre: tuple[float, float]  # lon, lat (WGS-84)
    extent: tuple[float, float, float, float]  # west, south, east, north (WGS-84)
    population: float = Field(gt=0)  # 万人; a weight
    streets: int = Field(ge=0)  # 街道 (township codes 001-099)
    towns: int = Field(ge=0)  # 镇 (township codes 101-199)


class RetiredCode(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    successor: str = Field(pattern=r"^\d{6}$")
    since: int = 0
    until: int
    share: float = Field(ge=0, le=1)


class Origin(_Data):
    code: str = Field(pattern=r"^\d{6}$")
    address: str
    weight: float = Field(gt=0)


class People(_Data):
    registered_share: float = Field(ge=0, le=1)
    male_share_registered: float
    male_share_floating: float
    age_bands_registered: tuple[float, ...] = Field(min_length=21, max_length=21)
    age_bands_floating: tuple[float, ...] = Field(min_length=21, max_length=21)
    ethnic_weights: dict[str, float]
    birth_rate: float
    death_rate: float
    move_rate: float
    phone_change_rate: float
    deceased_share: float


class Economy(_Data):
    entities_per_resident: float
    new_entity_rate: float
    change_rate: float
    deregistration_rate: float
    revocation_rate: float
    personal_licence_share: float
    penalty_share_entities: float
    penalty_share_persons: float
    red_list_share: float
    credit_change_rate: float


class City(_Data):
    """One city: its real districts and codes, and the rates the simulation runs at."""

    name: str
    short: str
    province: str
    province_code: str
    code: str
    phone_area_code: str
    persons_per_building: int = Field(gt=0)
    districts: tuple[District, ...] = Field(min_length=1)
    retired: tuple[RetiredCode, ...] = ()
    origins: tuple[Origin, ...] = Field(min_length=1)
    people: People
    economy: Economy

    @model_validator(mode="after")
    def _consistent(self) -> City:
        codes = {d.code for d in self.districts}
        if len(codes) != len(self.districts):
            raise ValueError("district codes repeat")
        for i, d in enumerate(self.districts):
            west, south, east, north = d.extent
            lon, lat = d.centre
            if not (west < lon < east and south < lat < north):
                raise ValueError(f"district {d.code}: centre {d.centre} outside its extent")
            if d.streets + d.towns == 0:
                raise ValueError(f"district {d.code} has no street or town")
            for o in self.districts[i + 1 :]:
                w, s, e, n = o.extent
                if west < e and w < east and south < n and s < north:
                    raise ValueError(f"districts {d.code} and {o.code} overlap")
        for r in self.retired:
            if r.successor not in codes:
                raise ValueError(f"retired code {r.code}: successor {r.successor} is no district")
        return self

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """West, south, east, north of all districts together."""
        ext = [d.extent for d in self.districts]
        return (
            min(e[0] for e in ext),
            min(e[1] for e in ext),
            max(e[2] for e in ext),
            max(e[3] for e in ext),
        )

    def district_name(self, code: str) -> str:
        return next(d.name for d in self.districts if d.code == code)


class EntityType(_Data):
    text: str
    weight: float
    category: str  # second character of the USCC (GB 32100 category under 9 工商)
    capital_wan: tuple[float, float]
    currency: str
    term_years: int  # 0: 营业期限 长期


class Industry(_Data):
    code: str = Field(pattern=r"^[A-T]\d{4}$")
    name: str
    word: str
    weight: float
    licences: tuple[str, ...]


class LicenceType(_Data):
    type_code: str = Field(min_length=21, max_length=21)
    name: str
    holder: Literal["entity", "person"]
    valid_years: int  # 0: 长期
    issuer: str  # an authority kind
    prefix: str = ""


class AuthorityTemplate(_Data):
    kind: str
    name: str
    abbr: str
    per_district: bool = False
    former: tuple[str, ...] = ()  # names before a reorganisation


class PenaltyKind(_Data):
    authority: str
    violation: str
    basis: str
    categories: tuple[str, ...]
    fine: tuple[int, int]  # yuan
    serious: bool


class ListKind(_Data):
    name: str
    type: Literal["black", "red"]
    authority: str
    years: int


class Vocabulary(_Data):
    """Names, entity types, industries, licence and credit vocabulary (national)."""

    surnames: dict[str, float]
    given_male: str
    given_female: str
    given_common: str
    place_chars: str
    road_suffixes: dict[str, float]
    brand_chars: str
    entity_types: tuple[EntityType, ...]
    industries: tuple[Industry, ...]
    licence_types: dict[str, LicenceType]
    authorities: tuple[AuthorityTemplate, ...]
    penalties: tuple[PenaltyKind, ...]
    lists: tuple[ListKind, ...]


class Authority(_Data):
    """A government body of the city: issues licences, decides penalties, keeps lists."""

    kind: str
    name: str
    abbr: str
    uscc: str
    region_code: str  # its district, or the city's code for city-wide bodies
    former_names: tuple[str, ...] = ()


def load_city(city: str | Path = "guangzhou") -> City:
    """Read a city definition: a name under ``cities/`` or a path to a TOML file.

    Example:
        >>> [d.code for d in load_city().districts][:3]
        ['440103', '440104', '440105']
    """
    path = Path(city) if Path(city).suffix == ".toml" else CITIES / f"{city}.toml"
    with path.open("rb") as fh:
        return City.model_validate(tomllib.load(fh))


@cache
def load_vocabulary() -> Vocabulary:
    with (HERE / "vocabulary.toml").open("rb") as fh:
        return Vocabulary.model_validate(tomllib.load(fh))


def _government_uscc(region6: str, name: str) -> str:
    # 11 = 机构编制 / 机关 (GB 32100 §2.1 table). The organization-code body is derived from
    # the name so that the same city file always yields the same codes.
    digits = f"{zlib.crc32(name.encode()) % 10**6:06d}"
    body8 = "MB" + digits
    body17 = "11" + region6 + body8 + org_code_check_char(body8)
    return body17 + uscc_check_char(body17)


def authorities(city: City, vocabulary: Vocabulary) -> tuple[Authority, ...]:
    """Every authority of the city, per-district ones in district order.

    Example:
        >>> from feeds.demo_city.city import load_city, load_vocabulary
        >>> auth = authorities(load_city(), load_vocabulary())
        >>> auth[0].name, auth[0].abbr, len(auth[0].uscc)
        ('广州市荔湾区市场监督管理局', '穗荔市监', 18)
    """
    out: list[Authority] = []
    for t in vocabulary.authorities:
        places = (
            [(d.name, d.abbr, d.code) for d in city.districts]
            if t.per_district
            else [("", "", city.code)]
        )
        for district, abbr, region in places:
            fill = {"city": city.name, "district": district, "short": city.short, "abbr": abbr}
            name = t.name.format(**fill)
            out.append(
                Authority(
                    kind=t.kind,
                    name=name,
                    abbr=t.abbr.format(**fill),
                    uscc=_government_uscc(region, name),
                    region_code=region,
                    former_names=tuple(f.format(**fill) for f in t.former),
                )
            )
    return tuple(out)
