import Foundation
import Planning
import Testing

@Suite struct AllianceDeciderTests {
    @Test func formAllianceOnceOnly() {
        let s = Scenario(Fixture.nations)
        let form = PlanningCommand.formAlliance(AllianceProfile(alliance: "quad", name: "Quad", kind: .strategicPartnership, founded: "2017-11-12"))
        #expect(s.accept(form) == [.alliance(.formed(AllianceProfile(alliance: "quad", name: "Quad", kind: .strategicPartnership, founded: "2017-11-12")))])
        s.reject(form, field: "alliance", "alliance quad already exists")
    }

    @Test func admitRequiresExistingAllianceAndRegisteredNation() {
        let s = Scenario(Fixture.nations)
        let admit = PlanningCommand.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "AUS", role: .member, joined: "1952-04-29"))
        s.reject(admit, field: "alliance", "alliance anzus does not exist")
        s.given([Fixture.anzus[0]])
        s.reject(.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "XYZ", role: .member, joined: "1960-01-01")),
                 field: "nation", "XYZ: the nation is not registered")
        s.reject(.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "AUS", role: .member, joined: "1950-01-01")),
                 field: "joined", "was founded on 1952-04-29")
        s.accept(admit)
        s.reject(admit, field: "nation", "already has AUS as member")
    }

    @Test func leaveAndRejoin() {
        let s = Scenario(Fixture.nations + Fixture.anzus)
        s.reject(.removeAllianceMember(AllianceDeparture(alliance: "anzus", nation: "JPN", left: "2000-01-01")), field: "nation", "no current membership of JPN")
        s.reject(.removeAllianceMember(AllianceDeparture(alliance: "anzus", nation: "NZL", left: "1950-01-01")), field: "left", "cannot leave earlier")
        s.accept(.removeAllianceMember(AllianceDeparture(alliance: "anzus", nation: "NZL", left: "1986-08-11")))
        s.reject(.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "NZL", role: .partner, joined: "1980-01-01")), field: "joined", "cannot rejoin earlier")
        s.accept(.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "NZL", role: .partner, joined: "2010-01-01")))
        let state = s.alliance("anzus")
        #expect(state.memberships.filter { $0.nation == "NZL" }.count == 2)
        #expect(state.role(of: "NZL", throughout: window("2025-07-13", "2025-08-04")) == .partner)
        #expect(state.role(of: "NZL", throughout: window("1990-01-01", "1990-01-02")) == nil)
    }

    @Test func noChangesAfterDissolution() {
        let s = Scenario(Fixture.nations + Fixture.anzus)
        s.reject(.dissolveAlliance(AllianceDissolution(alliance: "anzus", dissolved: "1900-01-01", reason: "x")), field: "dissolved", "cannot be dissolved earlier")
        s.accept(.dissolveAlliance(AllianceDissolution(alliance: "anzus", dissolved: "2030-01-01", reason: "Demo dissolution")))
        s.reject(.admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "JPN", role: .member, joined: "2031-01-01")), "no changes are allowed after dissolution")
        s.reject(.removeAllianceMember(AllianceDeparture(alliance: "anzus", nation: "AUS", left: "2031-01-01")), "was dissolved on 2030-01-01")
        s.reject(.dissolveAlliance(AllianceDissolution(alliance: "anzus", dissolved: "2031-01-01", reason: "again")), "was dissolved")
        #expect(s.alliance("anzus").role(of: "AUS", throughout: window("2031-01-01", "2031-01-02")) == nil)
    }
}

@Suite struct NationDeciderTests {
    @Test func registerOnceIncludingFictional() {
        let s = Scenario()
        let olvana = PlanningCommand.registerNation(NationProfile(nation: "OLV", name: "Olvana", fictional: true))
        #expect(s.accept(olvana) == [.nation(.registered(NationProfile(nation: "OLV", name: "Olvana", fictional: true)))])
        s.reject(olvana, field: "nation", "nation OLV is already registered")
        #expect(NationState.fold(s.store.events(.nation("OLV"))).profile?.fictional == true)
    }
}

@Suite struct UnitDeciderTests {
    @Test func registerNeedsNationAndIsUnique() {
        let s = Scenario()
        s.reject(Fixture.unit("aus-3rar", "AUS"), field: "nation", "the nation is not registered")
        s.given(Fixture.nations)
        s.accept(Fixture.unit("aus-3rar", "AUS"))
        s.reject(Fixture.unit("aus-3rar", "AUS"), field: "unit", "unit aus-3rar is already registered")
    }

    @Test func capabilitiesAddedAndWithdrawn() {
        let s = Scenario(Fixture.nations + [Fixture.unit("aus-3rar", "AUS")])
        let link16 = Capability(kind: .dataLink, name: "Link 16")
        s.reject(.addCapability(CapabilityAddition(unit: "nobody", capability: link16)), field: "unit", "unit nobody is not registered")
        s.reject(.withdrawCapability(CapabilityWithdrawal(unit: "aus-3rar", capability: link16, reason: "x")), field: "capability", "does not implement")
        s.accept(.addCapability(CapabilityAddition(unit: "aus-3rar", capability: link16)))
        s.reject(.addCapability(CapabilityAddition(unit: "aus-3rar", capability: link16)), field: "capability", "already implements data-link Link 16")
        #expect(s.unit("aus-3rar").capabilities == [link16])
        s.accept(.withdrawCapability(CapabilityWithdrawal(unit: "aus-3rar", capability: link16, reason: "Terminal removed")))
        #expect(s.unit("aus-3rar").capabilities.isEmpty)
    }

    @Test func readinessReportComputesWorstArea() {
        let s = Scenario(Fixture.nations + [Fixture.unit("aus-3rar", "AUS")])
        let events = s.accept(.reportReadiness(ReadinessSubmission(unit: "aus-3rar", asOf: "2025-05-30", ratings: Fixture.ratings(1, 3, 2, 1))))
        #expect(events == [.unit(.readinessReported(ReadinessReported(unit: "aus-3rar", asOf: "2025-05-30", ratings: Fixture.ratings(1, 3, 2, 1), cLevel: 3)))])
        s.reject(Fixture.report("aus-3rar", "2025-05-30"), field: "asOf", "use correctReadiness")
        s.reject(Fixture.report("aus-3rar", "2025-06-02"), at: "2025-06-01", field: "asOf", "after the decision date 2025-06-01")
        #expect(s.unit("aus-3rar").latestReport?.cLevel == 3)
    }

    @Test func reportsOrderedByAsOf() {
        let s = Scenario(Fixture.nations + [Fixture.unit("aus-3rar", "AUS"), Fixture.report("aus-3rar", "2025-05-30", 1), Fixture.report("aus-3rar", "2025-05-01", 4)])
        #expect(s.unit("aus-3rar").latestReport?.asOf == "2025-05-30")
        #expect(s.unit("aus-3rar").reports.map(\.asOf) == ["2025-05-01", "2025-05-30"])
    }

    @Test func overrideNeedsAReportAndAChange() {
        let s = Scenario(Fixture.nations + [Fixture.unit("aus-3rar", "AUS"), Fixture.report("aus-3rar", "2025-05-30", 3)])
        s.reject(.overrideReadiness(ReadinessOverride(unit: "aus-3rar", asOf: "2025-05-01", cLevel: 2, remark: "r")), field: "asOf", "no readiness report as of 2025-05-01")
        s.reject(.overrideReadiness(ReadinessOverride(unit: "aus-3rar", asOf: "2025-05-30", cLevel: 3, remark: "r")), field: "cLevel", "an override must change the level")
        s.accept(.overrideReadiness(ReadinessOverride(unit: "aus-3rar", asOf: "2025-05-30", cLevel: 2, remark: "Spares arrived")))
        let report = s.unit("aus-3rar").latestReport
        #expect(report?.cLevel == 2)
        #expect(report?.computedLevel == 3)
        #expect(report?.isOverridden == true)
        #expect(report?.override?.remark == "Spares arrived")
    }

    @Test func correctionIsANewEventWithReason() {
        let s = Scenario(Fixture.nations + [Fixture.unit("aus-3rar", "AUS"), Fixture.report("aus-3rar", "2025-05-30", 3)])
        s.reject(.correctReadiness(ReadinessCorrection(unit: "aus-3rar", asOf: "2025-05-29", ratings: Fixture.ratings(1), reason: "typo")), field: "asOf", "to correct")
        s.reject(.correctReadiness(ReadinessCorrection(unit: "aus-3rar", asOf: "2025-05-30", ratings: Fixture.ratings(3), reason: "typo")), field: "ratings", "must change them")
        let events = s.accept(.correctReadiness(ReadinessCorrection(unit: "aus-3rar", asOf: "2025-05-30", ratings: Fixture.ratings(1, 2), reason: "Supplies misreported")))
        #expect(events == [.unit(.readinessCorrected(ReadinessCorrected(unit: "aus-3rar", asOf: "2025-05-30", ratings: Fixture.ratings(1, 2), cLevel: 2, reason: "Supplies misreported")))])
        let report = s.unit("aus-3rar").latestReport
        #expect(report?.cLevel == 2)
        #expect(report?.corrections.count == 1)
        #expect(s.store.events(.unit("aus-3rar")).count == 3)  // history kept
    }

    @Test func freshness() {
        let report = ReadinessReport(asOf: "2025-05-01", ratings: nil, computedLevel: 1, override: nil)
        #expect(!report.isStale(at: "2025-05-31"))
        #expect(report.isStale(at: "2025-06-01"))
    }
}

@Suite struct AreaDeciderTests {
    @Test func registerNeedsHostNation() {
        let s = Scenario()
        let area = PlanningCommand.registerTrainingArea(AreaProfile(area: "sbta", hostNation: "AUS", kind: .landRange, name: "Shoalwater Bay"))
        s.reject(area, field: "hostNation", "the nation is not registered")
        s.given(Fixture.nations)
        s.accept(area)
        s.reject(area, field: "area", "training area sbta is already registered")
    }

    @Test func bookingsRefuseOverlaps() {
        let s = Scenario(Fixture.world + [.planExercise(Fixture.plan("pb", name: "PITCH BLACK", window: window("2025-08-01", "2025-08-20"), alliance: nil))])
        let book = PlanningCommand.bookTrainingArea(AreaAssignment(exercise: "ts25", area: "shoalwater-bay"))
        s.reject(.bookTrainingArea(AreaAssignment(exercise: "ts25", area: "nowhere")), field: "area", "training area nowhere: it is not registered")
        s.reject(.bookTrainingArea(AreaAssignment(exercise: "nope", area: "shoalwater-bay")), field: "exercise", "exercise nope does not exist")
        let events = s.accept(book)
        #expect(events.count == 2)
        s.reject(book, field: "area", "has already booked training area shoalwater-bay")
        s.reject(.bookTrainingArea(AreaAssignment(exercise: "pb", area: "shoalwater-bay")), field: "window",
                 "training area shoalwater-bay is already booked by TALISMAN SABRE 25 from 2025-07-13 to 2025-08-04")
        // A window that does not overlap is accepted.
        s.accept(.bookTrainingArea(AreaAssignment(exercise: "pb", area: "shoalwater-bay", window: window("2025-08-05", "2025-08-20"))))
        #expect(s.area("shoalwater-bay").bookings.count == 2)
    }

    @Test func releaseBooking() {
        let s = Scenario(Fixture.world)
        let release = PlanningCommand.releaseTrainingArea(AreaRelease(exercise: "ts25", area: "shoalwater-bay", reason: "Not needed"))
        s.reject(release, field: "area", "has no booking of training area shoalwater-bay")
        s.given([.bookTrainingArea(AreaAssignment(exercise: "ts25", area: "shoalwater-bay"))])
        s.accept(release)
        #expect(s.area("shoalwater-bay").bookings.isEmpty)
        #expect(s.exercise("ts25").reservations.isEmpty)
    }
}
