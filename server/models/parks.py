"""Parks (polygons), the bureau's office, and the enterprises and project sites inside parks."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, choice, multipolygon, point, utcnow
from .vocab import CREDIT_CLASSES, RISK_GRADES, SAFETY_STD_GRADES, SITE_KINDS


class Park(db.Model):
    __tablename__ = "parks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(120))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(40), default="general")
    boundary = mapped_column(multipolygon(), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    sites: Mapped[list["Site"]] = relationship(back_populates="park")


class Office(db.Model):
    """The bureau's office: where every patrol route starts and ends."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_zh: Mapped[str] = mapped_column(sa.String(120))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    location = mapped_column(point(), nullable=False)
    is_default: Mapped[bool] = mapped_column(default=False)


class Site(db.Model):
    """An enterprise or a project site that inspectors visit."""

    __tablename__ = "sites"
    __table_args__ = (
        # PostGIS does not use a GiST index on geom for a geography ST_DWithin: index the
        # expression the `near` query uses. SpatiaLite uses its R*Tree on geom instead.
        sa.Index("ix_sites_geog", sa.text("(geom)::geography"), postgresql_using="gist").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    park_id: Mapped[int] = mapped_column(sa.ForeignKey("parks.id"), index=True)
    kind: Mapped[str] = mapped_column(choice(*SITE_KINDS, name="site_kind"), default="enterprise")
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    industry: Mapped[str] = mapped_column(sa.String(80), default="")
    geom = mapped_column(point(), nullable=False)
    risk_grade: Mapped[str] = mapped_column(choice(*RISK_GRADES, name="risk_grade"), default="low", index=True)
    credit_class: Mapped[str] = mapped_column(choice(*CREDIT_CLASSES, name="credit_class"), default="B")
    # Only hazardous-chemical plants carry a safety-standardisation grade.
    safety_std_grade: Mapped[str | None] = mapped_column(choice(*SAFETY_STD_GRADES, name="safety_std_grade"))
    is_hazchem: Mapped[bool] = mapped_column(default=False)
    is_major_hazard: Mapped[bool] = mapped_column(default=False)
    is_key_polluter: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str] = mapped_column(sa.String(80), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    park: Mapped[Park] = relationship(back_populates="sites")

    @property
    def is_key_object(self) -> bool:
        """Key objects (重点对象) get full coverage: at least one visit a quarter."""
        return self.is_hazchem or self.is_major_hazard or self.is_key_polluter

