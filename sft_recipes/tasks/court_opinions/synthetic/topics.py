"""What the made-up cases are about: facts, the question, the holding either way, and the principles cited.

Placeholders in the texts: {a} {b} (the parties' short names, {a} first in the caption), {city}, {amount}, {goods},
{lower} (the court below), {year}. ``kinds`` says what the parties are: p a person, c a company, x either, s the
government (criminal cases), g an agency. ``appellant`` is the party that lost below ("a" or "b").
"""

from __future__ import annotations

from dataclasses import dataclass

CITIES = ("Springfield", "Riverside", "Fairview", "Georgetown", "Madison", "Clinton", "Franklin", "Ashland", "Dover",
          "Salem", "Greenville", "Bristol", "Lakewood", "Milford", "Oakdale")
GOODS = ("steel pipe", "office furniture", "frozen produce", "printed circuit boards", "roofing shingles", "lumber",
         "medical gloves", "solar panels", "industrial solvents")


@dataclass(frozen=True)
class Topic:
    appellant: str
    kinds: str
    facts: str
    question: str  # completes "... whether ..."
    for_appellant: str  # completes "we hold that ..."
    against_appellant: str
    principles: tuple[str, ...]  # each a clause: "an electronic signature counts as a signature when ..."


TOPICS = (
    Topic(
        "a",
        "xx",
        "{a} agreed by email to sell {goods} to {b} for ${amount}. When {b} refused the first delivery in {year}, "
        "{a} sued for breach of contract. The {lower} held that no enforceable contract existed and entered "
        "judgment for {b}.",
        "an exchange of emails bearing the parties' typed names satisfies the writing requirement of the statute "
        "of frauds",
        "the emails, read together, state the quantity and price and are signed within the meaning of the statute",
        "the emails never settled a quantity term and therefore cannot satisfy the statute",
        (
            "an electronic signature counts as a signature when the sender intends to adopt the message",
            "the statute of frauds requires a writing that states the quantity of goods",
            "several writings may be read together when they refer to the same transaction",
            "courts should not use the statute of frauds to defeat a bargain that was in fact made",
        ),
    ),
    Topic(
        "b",
        "sp",
        "Officers in {city} stopped a car driven by {b} for a broken taillight. Saying they smelled marijuana, the "
        "officers searched the trunk and found a handgun. The {lower} refused to suppress the gun, and {b} was "
        "convicted.",
        "the odor of marijuana alone gave the officers probable cause to search the trunk of the car",
        "the odor of marijuana, without more, did not supply probable cause to search the trunk",
        "the odor of marijuana, together with the driver's evasive answers, supplied probable cause",
        (
            "probable cause is judged by the totality of the circumstances known to the officers",
            "the scope of a vehicle search is defined by the object of the search and the places it may be found",
            "evidence obtained through an unlawful search must ordinarily be suppressed",
            "a change in the legal status of a substance bears on what its odor suggests",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} slipped on a wet floor in a store operated by {a} in {city} and broke a wrist. A jury found {a} "
        "negligent and awarded ${amount}. {a} argued that it had no notice of the spill, and the {lower} upheld "
        "the verdict.",
        "a store owner may be charged with constructive notice of a spill that was on the floor for about twenty "
        "minutes",
        "the evidence did not permit a finding that the spill was present long enough to give constructive notice",
        "twenty minutes was long enough for a reasonable jury to find constructive notice",
        (
            "a possessor of land must use reasonable care to discover dangerous conditions",
            "constructive notice may rest on the length of time a hazard was present",
            "a jury verdict stands unless no reasonable juror could have reached it",
            "a business is not an insurer of the safety of its customers",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} worked for {a} for six years before complaining to a supervisor about unpaid overtime. Two weeks "
        "later {b} was fired. {b} sued for retaliation, and the {lower} entered judgment for {b} after a bench "
        "trial, awarding ${amount}.",
        "an internal complaint to a supervisor, made orally, is protected activity under the state wage statute",
        "the statute protects only written complaints filed with the labor department",
        "an oral internal complaint that clearly asserts a violation of the statute is protected activity",
        (
            "remedial employment statutes are read broadly to carry out their purpose",
            "a complaint is filed when a reasonable employer would understand it as an assertion of rights",
            "close timing between a complaint and a firing may support an inference of retaliation",
            "the text of a statute is the starting point of its interpretation",
        ),
    ),
    Topic(
        "a",
        "cp",
        "In {year} {b} learned that a hip implant sold by {a} had shed metal particles for years. {b} sued more "
        "than two years after the surgery but within a year of the discovery. The {lower} refused to dismiss "
        "the claim as untimely.",
        "the limitations period for a products liability claim begins when the injury occurs or when the "
        "plaintiff discovers its cause",
        "the claim accrued at the time of the surgery and is barred",
        "the discovery rule applies and the claim was timely filed",
        (
            "a cause of action accrues when the plaintiff knows or should know of the injury and its cause",
            "statutes of limitations protect defendants from stale claims",
            "a latent injury may not be discoverable through reasonable diligence",
            "the legislature may choose a fixed accrual date, but it must say so plainly",
        ),
    ),
    Topic(
        "a",
        "xc",
        "A fire destroyed a warehouse owned by {a} in {city}. Its insurer, {b}, denied coverage under an exclusion "
        "for losses caused by faulty workmanship. The {lower} agreed with {b} and dismissed the suit for "
        "${amount}.",
        "the faulty workmanship exclusion bars coverage for a fire caused by negligent electrical work",
        "the exclusion is ambiguous as applied to a fire and must be construed in favor of coverage",
        "the exclusion unambiguously applies to loss caused by the negligent electrical work",
        (
            "ambiguous terms in an insurance policy are construed against the insurer",
            "an exclusion is read in light of the policy as a whole",
            "the insurer bears the burden of proving that an exclusion applies",
            "courts give policy language its plain and ordinary meaning",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} bought a used truck from {a} on a form contract that required all disputes to be arbitrated in a "
        "distant city, with the buyer paying the arbitrator's fees. {b} sued in {city}, and the {lower} refused "
        "to compel arbitration.",
        "an arbitration clause that shifts all arbitration fees to a consumer is unconscionable",
        "the clause is enforceable because the fee provision can be severed",
        "the fee provision makes the clause unconscionable and it cannot be enforced",
        (
            "arbitration agreements are enforced on the same terms as other contracts",
            "unconscionability requires both procedural and substantive unfairness",
            "costs that prevent a party from vindicating a claim may render a clause unenforceable",
            "a court may sever an unfair term when the rest of the agreement can stand",
        ),
    ),
    Topic(
        "b",
        "sp",
        "{b} pleaded guilty to theft of ${amount} from a nonprofit in {city}. At sentencing the {lower} added two "
        "levels for abuse of a position of trust because {b} had served as the nonprofit's volunteer treasurer.",
        "an unpaid volunteer can hold a position of trust for purposes of the sentencing enhancement",
        "the enhancement requires managerial discretion that the volunteer role did not carry",
        "the volunteer treasurer held a position of trust and the enhancement was properly applied",
        (
            "a position of trust is marked by professional or managerial discretion",
            "the sentencing court's factual findings are reviewed for clear error",
            "the enhancement applies when the position significantly facilitated the offense",
            "payment is not the test of whether a position involves trust",
        ),
    ),
    Topic(
        "b",
        "sp",
        "Detectives questioned {b} at the {city} police station for four hours about a burglary. {b} asked whether "
        "a lawyer could be present, and the detectives kept talking. The {lower} admitted the confession at trial.",
        "a suspect who asks whether a lawyer can be present has invoked the right to counsel",
        "the question was an unambiguous request for counsel, so the questioning had to stop",
        "the question was not an unambiguous request for counsel, so the detectives could continue",
        (
            "a suspect must clearly ask for a lawyer before officers are required to stop questioning",
            "statements taken after a suspect invokes the right to counsel must be suppressed",
            "the prosecution bears the burden of proving a valid waiver of the right to counsel",
            "a statement is judged by how a reasonable officer would understand it",
        ),
    ),
    Topic(
        "a",
        "pc",
        "{a}, a local newspaper columnist, wrote that {b} had bribed a city inspector in {city}. {b} sued for "
        "defamation. A jury awarded ${amount}, and the {lower} denied a new trial.",
        "a columnist's statement that a business paid a bribe is a statement of fact rather than protected opinion",
        "the column, read in context, expressed an opinion based on disclosed facts",
        "the column asserted a provably false fact and is not protected as opinion",
        (
            "a statement of opinion that implies false facts may be defamatory",
            "courts read an allegedly defamatory statement in its full context",
            "a public figure must prove actual malice by clear and convincing evidence",
            "truth is a complete defense to a claim of defamation",
        ),
    ),
    Topic(
        "a",
        "cc",
        "{b} sold running shoes under a mark that looked much like the mark {a} had used since {year}. {a} sought a "
        "preliminary injunction, and the {lower} refused it after finding no likelihood of confusion.",
        "the similarity of two marks sold through the same stores shows a likelihood of confusion",
        "the marks are similar enough, and sold in the same channels, that confusion is likely",
        "the differences in the marks and their buyers make confusion unlikely",
        (
            "likelihood of confusion is judged by weighing several factors together",
            "the strength of a mark bears on the scope of its protection",
            "evidence of actual confusion is persuasive but not required",
            "a preliminary injunction requires a likelihood of success on the merits",
        ),
    ),
    Topic(
        "a",
        "pg",
        "{a} applied for disability benefits in {year}, citing back pain that kept her from working. An "
        "administrative law judge gave little weight to her treating physician and denied the claim, and the "
        "{lower} affirmed.",
        "the administrative law judge gave good reasons for discounting the treating physician's opinion",
        "the administrative law judge did not give good reasons for rejecting the treating physician's opinion",
        "substantial evidence supports the decision to give the treating physician's opinion little weight",
        (
            "an agency's findings are upheld when substantial evidence supports them",
            "a treating physician's opinion deserves weight when it is well supported",
            "an agency must explain its reasons so that a court can review them",
            "a reviewing court may not reweigh the evidence",
        ),
    ),
    Topic(
        "b",
        "pp",
        "{a} and {b} divorced after twenty years of marriage. The {lower} divided their property and treated a "
        "retirement account worth ${amount} that {b} opened before the marriage as marital property.",
        "a retirement account opened before the marriage became marital property when marital funds were added to it",
        "the account remained separate property because its premarital share can be traced",
        "the account became marital property because marital contributions were commingled with it",
        (
            "property acquired during the marriage is presumed to be marital property",
            "separate property that can be traced keeps its character",
            "the division of property is reviewed for an abuse of discretion",
            "commingling may transform separate property into marital property",
        ),
    ),
    Topic(
        "a",
        "pc",
        "{a} filed for bankruptcy in {year} and sought to discharge a debt of ${amount} owed to {b}. {b} argued that "
        "{a} obtained the loan by submitting a false statement of income, and the {lower} held the debt "
        "nondischargeable.",
        "a debt obtained through a materially false written statement of income is excepted from discharge",
        "the creditor did not reasonably rely on the statement, so the debt may be discharged",
        "the creditor reasonably relied on the false statement, so the debt is not dischargeable",
        (
            "exceptions to discharge are construed narrowly in favor of the debtor",
            "the creditor must prove each element of an exception by a preponderance of the evidence",
            "reliance on a written statement must be reasonable",
            "the fresh start policy is central to the bankruptcy system",
        ),
    ),
    Topic(
        "b",
        "cp",
        "{a} sued {b}, a resident of another state, in {city} over a software license. {b} had never visited the "
        "state, and the {lower} denied a motion to dismiss for lack of personal jurisdiction.",
        "a nonresident who buys a software license online from a company in the forum state is subject to "
        "jurisdiction there",
        "the nonresident's online purchase is not enough contact with the state to allow jurisdiction",
        "the nonresident purposefully directed activity at the state and may be sued there",
        (
            "due process requires minimum contacts with the forum state",
            "a defendant's contacts must show purposeful availment of the forum",
            "the exercise of jurisdiction must be fair and reasonable",
            "the plaintiff bears the burden of establishing jurisdiction",
        ),
    ),
    Topic(
        "a",
        "sp",
        "{b} was sentenced to a term above the guidelines range for a firearms offense in {city}. The {lower} did "
        "not explain why it rejected {b}'s argument for a lower sentence.",
        "a sentencing court must address a defendant's nonfrivolous argument for a lower sentence",
        "the sentencing court's silence on the argument makes the sentence procedurally unreasonable",
        "the record shows the sentencing court considered the argument, and the sentence is reasonable",
        (
            "a sentencing court must adequately explain the chosen sentence",
            "sentences are reviewed for reasonableness under a deferential standard",
            "a sentence outside the guidelines range requires a sufficient justification",
            "procedural error occurs when a court fails to consider the statutory factors",
        ),
    ),
)
