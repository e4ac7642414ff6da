"""Writes opinions.jsonl: hand-written opinions in the seed notebook's shape (id, case_name, court, date_filed, text,
citations), with no caption in the text. The parties and decisions are made up; the authorities they cite are real.
The text is written here by hand (not by the corpus generator); ``citations`` lists the cases each opinion cites in
full, in the form the citations task answers with. Run it to rewrite opinions.jsonl after editing an opinion."""

import json
from pathlib import Path

OPINIONS = [
    {
        "id": "real-01",
        "case_name": "Calloway v. United States",
        "court": "Supreme Court of the United States",
        "date_filed": "2023-06-22",
        "citations": [
            "Katz v. United States, 389 U.S. 347 (1967)",
            "Carpenter v. United States, 585 U.S. 296 (2018)",
            "Smith v. Maryland, 442 U.S. 735 (1979)",
            "Riley v. California, 573 U.S. 373 (2014)",
        ],
        "text": """JUSTICE ALVAREZ delivered the opinion of the Court.

For eleven days in the spring of 2019, agents of the Drug Enforcement Administration tracked petitioner Darnell Calloway by asking his wireless carrier, every fifteen minutes, to report the location of his phone. The agents had no warrant. They relied instead on a court order issued under 18 U.S.C. § 2703(d), which requires only "specific and articulable facts" showing that the records sought are relevant to an ongoing investigation. The location reports led the agents to a storage unit in Dayton, where they found four kilograms of fentanyl. Calloway moved to suppress the drugs, the District Court denied the motion, and the Court of Appeals for the Sixth Circuit affirmed.

We granted certiorari to decide whether the Government conducts a search under the Fourth Amendment when it obtains real-time location information from a wireless carrier.

A person's expectation of privacy is protected when it is one that society is prepared to recognize as reasonable. Katz v. United States, 389 U.S. 347, 361 (1967) (Harlan, J., concurring). In Carpenter v. United States, 585 U.S. 296, 310 (2018), we held that the Government's acquisition of seven days of historical cell-site records was a search, because those records give "an intimate window into a person's life." Id. at 311. The Government argues that Carpenter does not reach records created at the agents' request rather than kept by the carrier in the ordinary course of business, and that the third-party doctrine of Smith v. Maryland, 442 U.S. 735, 743-744 (1979), controls.

We disagree. The information here was more precise and more continuous than the records in Carpenter, and a person does not voluntarily convey his location to the carrier merely by carrying a phone. Carpenter, 585 U.S. at 315. Nor does it matter that the carrier generated the reports on demand; the intrusion on the owner's privacy is the same. See Riley v. California, 573 U.S. 373, 403 (2014) (modern cell phones "hold for many Americans the privacies of life").

We hold that the Government's acquisition of real-time cell-site location information is a search within the meaning of the Fourth Amendment, and that a warrant supported by probable cause is generally required.

The judgment of the Court of Appeals for the Sixth Circuit is reversed, and the case is remanded for further proceedings consistent with this opinion.

It is so ordered.""",
    },
    {
        "id": "real-02",
        "case_name": "Nakagawa v. Pacific Coast Freight Services, Inc.",
        "court": "Court of Appeals for the Ninth Circuit",
        "date_filed": "2021-09-08",
        "citations": [
            "Anderson v. Liberty Lobby, Inc., 477 U.S. 242 (1986)",
            "Humphrey v. Memorial Hospitals Ass'n, 239 F.3d 1128 (9th Cir. 2001)",
            "Snead v. Metropolitan Property & Casualty Insurance Co., 237 F.3d 1080 (9th Cir. 2001)",
        ],
        "text": """OPINION

BERZON, Circuit Judge:

Lena Nakagawa worked as a dispatcher for Pacific Coast Freight Services for nine years. After she was diagnosed with multiple sclerosis, she asked to work from home two days a week during flare-ups of her condition. The company refused, told her that regular attendance at the dispatch center was an essential function of her job, and fired her when she missed six days in one month. She sued under the Americans with Disabilities Act, 42 U.S.C. § 12112(a), and the district court granted summary judgment to Pacific Coast.

This appeal requires us to decide whether an employer may treat in-person attendance as an essential function of a job when its own records show that the employee performed the job remotely without complaint.

We review a grant of summary judgment de novo. Summary judgment is proper only if, viewing the evidence in the light most favorable to the nonmoving party, there is no genuine dispute of material fact. Anderson v. Liberty Lobby, Inc., 477 U.S. 242, 255 (1986). Whether a function is essential is a question of fact. An employer's judgment about what functions are essential deserves consideration, but it is not conclusive. Humphrey v. Memorial Hospitals Ass'n, 239 F.3d 1128, 1135-36 (9th Cir. 2001).

The record contains evidence that Nakagawa dispatched trucks from home for three weeks in 2018, while the dispatch center was closed for repairs, and that her supervisor rated her work during that period as "excellent." A reasonable jury could find from that evidence that attendance at the center was not essential. Id. at 1136. The company's contrary evidence, a job description written after Nakagawa asked for an accommodation, does not resolve the dispute; it creates one. See Snead v. Metropolitan Property & Casualty Insurance Co., 237 F.3d 1080, 1093 (9th Cir. 2001).

We conclude that genuine disputes of material fact remain as to whether in-person attendance was an essential function of Nakagawa's position and whether her requested schedule was a reasonable accommodation.

VACATED AND REMANDED.""",
    },
    {
        "id": "real-03",
        "case_name": "Rosales v. Harbor View Homeowners Association",
        "court": "Supreme Court of California",
        "date_filed": "2020-03-12",
        "citations": [
            "Navellier v. Sletten, 29 Cal. 4th 82 (2002)",
            "Baral v. Schnitt, 1 Cal. 5th 376 (2016)",
        ],
        "text": """Opinion of the Court by Cantil-Sakauye, C. J.

Plaintiff Marisol Rosales sued the Harbor View Homeowners Association after its board voted to fine her for painting her front door blue. Her complaint alleged that the board's vote breached the association's governing documents and that two board members defamed her in a newsletter sent to every household in the development. The association moved to strike the complaint under Code of Civil Procedure section 425.16, the anti-SLAPP statute. The trial court denied the motion in full. The Court of Appeal reversed as to the defamation claim and otherwise affirmed.

The issue before us is whether a newsletter distributed by a homeowners association to its members concerns an issue of public interest within the meaning of the anti-SLAPP statute.

The anti-SLAPP statute protects statements made in connection with an issue of public interest. A court first decides whether the challenged claim arises from protected activity, and then whether the plaintiff has shown a probability of prevailing on the claim. Navellier v. Sletten, 29 Cal. 4th 82, 88-89 (2002). The analysis proceeds claim by claim, so that a complaint that mixes protected and unprotected activity may be stricken in part. Baral v. Schnitt, 1 Cal. 5th 376, 396 (2016).

A homeowners association governs the daily lives of the people who live within it, and its members have a strong interest in how its board exercises that power. The newsletter reported the board's reasons for the fine to every affected household. Statements of that kind concern an issue of public interest to the community they are addressed to. Baral, 1 Cal. 5th at 393.

We conclude that the newsletter was protected activity, and that Rosales did not show a probability of prevailing on her defamation claim. The breach of contract claim, which arises from the board's vote rather than from any statement, was properly allowed to proceed.

The judgment of the Court of Appeal is affirmed.""",
    },
    {
        "id": "real-04",
        "case_name": "Ortega v. State",
        "court": "Court of Appeals of Texas, Fourteenth District",
        "date_filed": "2022-11-29",
        "citations": [
            "Jackson v. Virginia, 443 U.S. 307 (1979)",
            "Brooks v. State, 323 S.W.3d 893 (Tex. Crim. App. 2010)",
            "Cooper v. State, 430 S.W.3d 426 (Tex. Crim. App. 2014)",
        ],
        "text": """MEMORANDUM OPINION

A jury convicted appellant Ruben Ortega of aggravated robbery, see Tex. Penal Code Ann. § 29.03(a)(2), and the trial court sentenced him to fifteen years' confinement. In a single issue, appellant challenges the sufficiency of the evidence that he used or exhibited a deadly weapon.

The complainant, a convenience store clerk, testified that appellant walked behind the counter, held "something black and metal" against her side, and told her to open the register. She did not see the object clearly. A store camera recorded the robbery, but the object is hidden by appellant's jacket in every frame. No weapon was recovered.

The sole issue on appeal is whether a rational jury could find beyond a reasonable doubt that the object appellant pressed against the complainant was a deadly weapon. In reviewing the sufficiency of the evidence, we view all of the evidence in the light most favorable to the verdict. Jackson v. Virginia, 443 U.S. 307, 319 (1979); Brooks v. State, 323 S.W.3d 893, 912 (Tex. Crim. App. 2010). The jury is the sole judge of the credibility of the witnesses and the weight to be given their testimony. Id. at 899.

A deadly weapon may be proved by circumstantial evidence, including the victim's testimony about how the object felt and what the defendant said. Cooper v. State, 430 S.W.3d 426, 440 (Tex. Crim. App. 2014). The complainant testified that the object was hard, that it was cold through her shirt, and that appellant said he would "put one in her" if she screamed. From that testimony the jury could reasonably infer that the object was a firearm.

We hold that the evidence is legally sufficient to support the deadly-weapon element, and we overrule appellant's sole issue.

We affirm the trial court's judgment.""",
    },
    {
        "id": "real-05",
        "case_name": "In re Meridian Biologics Securities Litigation",
        "court": "United States District Court for the Southern District of New York",
        "date_filed": "2024-02-05",
        "citations": [
            "Ashcroft v. Iqbal, 556 U.S. 662 (2009)",
            "Tellabs, Inc. v. Makor Issues & Rights, Ltd., 551 U.S. 308 (2007)",
            "ECA, Local 134 IBEW Joint Pension Trust of Chicago v. JP Morgan Chase Co., 553 F.3d 187 (2d Cir. 2009)",
        ],
        "text": """OPINION AND ORDER

Lead plaintiffs, who bought shares of Meridian Biologics, Inc. between March 2021 and August 2022, bring this putative class action against the company and two of its officers under Section 10(b) of the Securities Exchange Act of 1934 and Rule 10b-5. They allege that defendants told investors that a Phase III trial of the company's arthritis drug was "on track" while concealing that the trial's safety monitoring board had twice recommended pausing enrollment. Defendants move to dismiss the amended complaint.

The question before the Court is whether the amended complaint pleads facts giving rise to a strong inference that the individual defendants acted with scienter.

To survive a motion to dismiss, a complaint must contain sufficient factual matter, accepted as true, to state a claim to relief that is plausible on its face. Ashcroft v. Iqbal, 556 U.S. 662, 678 (2009). A securities fraud complaint must do more: it must state with particularity facts giving rise to a strong inference of scienter, one that is "cogent and at least as compelling as any opposing inference." Tellabs, Inc. v. Makor Issues & Rights, Ltd., 551 U.S. 308, 324 (2007). Plaintiffs may meet that burden by alleging facts showing that defendants knew facts contradicting their public statements. ECA, Local 134 IBEW Joint Pension Trust of Chicago v. JP Morgan Chase Co., 553 F.3d 187, 198 (2d Cir. 2009).

The complaint alleges, on the basis of two former employees' accounts, that the chief medical officer attended both meetings at which the monitoring board recommended a pause and reported on them to the chief executive. Those allegations support a strong inference that both officers knew the trial was not "on track" when they said it was. Tellabs, 551 U.S. at 326. The complaint pleads no comparable facts about the statements made before the first recommendation in October 2021.

The Court concludes that plaintiffs have adequately pleaded scienter as to statements made after October 14, 2021, but not as to earlier statements.

For the foregoing reasons, defendants' motion to dismiss is GRANTED in part and DENIED in part.

SO ORDERED.""",
    },
    {
        "id": "real-06",
        "case_name": "Commonwealth v. Figueroa",
        "court": "Supreme Judicial Court of Massachusetts",
        "date_filed": "2021-07-16",
        "citations": [
            "Commonwealth v. Gonsalves, 429 Mass. 658 (1999)",
            "Commonwealth v. Torres-Pagan, 484 Mass. 34 (2020)",
        ],
        "text": """KAFKER, J. After stopping a car for a broken taillight late at night in Lawrence, a State trooper ordered the driver, the defendant Hector Figueroa, to step out of the car and then saw the handle of a knife under the driver's seat. The defendant was charged with carrying a dangerous weapon. A judge of the Superior Court allowed his motion to suppress the knife, concluding that the exit order was not justified, and a single justice of this court allowed the Commonwealth's application for leave to pursue an interlocutory appeal.

We must decide whether a driver's nervousness and his reach toward the floor of the car, observed during a routine traffic stop, justified an order to get out of the car.

Under art. 14 of the Massachusetts Declaration of Rights, an officer may order a driver out of a stopped car only if the officer reasonably believes that the officer's safety or the safety of others is in danger. Commonwealth v. Gonsalves, 429 Mass. 658, 662-663 (1999). Nervousness alone does not meet that standard. Commonwealth v. Torres-Pagan, 484 Mass. 34, 39 (2020). A furtive movement toward a place where a weapon could be hidden, however, may do so, particularly at night and when the officer is alone. Id. at 40.

The trooper testified, and the judge found, that the defendant leaned forward and reached under his seat twice while the trooper was standing at the window, after being told to keep his hands on the wheel. That conduct, added to the hour and the trooper's being alone, gave the trooper a reasonable basis to fear for his safety. Gonsalves, 429 Mass. at 664.

We conclude that the exit order was justified.

So much of the order as allowed the motion to suppress is reversed, and the matter is remanded to the Superior Court for further proceedings consistent with this opinion.

So ordered.""",
    },
    {
        "id": "real-07",
        "case_name": "Pruitt v. Castle Recovery Group, LLC",
        "court": "Court of Appeals for the Seventh Circuit",
        "date_filed": "2019-04-30",
        "citations": [
            "Gruber v. Creditors' Protection Service, Inc., 742 F.3d 271 (7th Cir. 2014)",
            "Wahl v. Midland Credit Management, Inc., 556 F.3d 643 (7th Cir. 2009)",
        ],
        "text": """Before WOOD, Chief Judge, and EASTERBROOK and SCUDDER, Circuit Judges.

EASTERBROOK, Circuit Judge. Castle Recovery Group sent Tamika Pruitt a letter seeking payment of a $742 medical bill. The letter said that the balance "may increase due to interest and fees." Under Pruitt's contract with the hospital, it could not: the hospital had agreed not to charge interest, and no fees were permitted. Pruitt sued under the Fair Debt Collection Practices Act, which forbids false or misleading representations in connection with the collection of a debt. 15 U.S.C. § 1692e. The district court dismissed the complaint, concluding that the statement was literally true because debts in general may increase.

The question presented is whether a collection letter that warns of interest and fees that can never be charged on the consumer's debt is misleading to an unsophisticated consumer.

We evaluate collection letters from the standpoint of an unsophisticated consumer, who may be uninformed or naive but is not a dimwit. Gruber v. Creditors' Protection Service, Inc., 742 F.3d 271, 273-74 (7th Cir. 2014). A statement that is literally true can still mislead if it leaves the consumer with a false impression about the character or amount of the debt. Wahl v. Midland Credit Management, Inc., 556 F.3d 643, 646 (7th Cir. 2009).

The warning in Castle's letter had only one function: to tell the reader that waiting to pay would cost more. For Pruitt that was false. A consumer who believes that the balance is growing may pay a debt she would otherwise dispute, which is the harm the statute is meant to prevent. Gruber, 742 F.3d at 274.

We hold that the complaint states a claim under § 1692e.

REVERSED AND REMANDED.

WOOD, Chief Judge, dissenting. I would affirm. The letter said that the balance may increase, and nothing in it was false. Wahl, 556 F.3d at 646.""",
    },
    {
        "id": "real-08",
        "case_name": "State ex rel. Brennan v. Industrial Commission of Ohio",
        "court": "Supreme Court of Ohio",
        "date_filed": "2018-12-11",
        "citations": [
            "State ex rel. Pressley v. Industrial Commission, 11 Ohio St.2d 141 (1967)",
            "State ex rel. Gross v. Industrial Commission, 115 Ohio St.3d 249, 2007-Ohio-4916",
        ],
        "text": """Per Curiam.

Appellant, Kevin Brennan, was injured in 2014 while working as a roofer for Summit Exteriors, Inc. The Industrial Commission of Ohio denied his application for temporary-total-disability compensation, finding that he had voluntarily abandoned his employment when he was fired for failing a drug test two weeks after the injury. Brennan asked the Tenth District Court of Appeals for a writ of mandamus ordering the commission to award the compensation. The court of appeals denied the writ, and Brennan appealed as of right.

At issue is whether an injured worker who is fired after his injury for violating a written work rule has voluntarily abandoned his employment and is therefore ineligible for temporary-total-disability compensation.

To obtain a writ of mandamus, Brennan must show a clear legal right to the relief requested and a clear legal duty on the part of the commission to provide it. State ex rel. Pressley v. Industrial Commission, 11 Ohio St.2d 141, 147 (1967). A commission order supported by some evidence will not be disturbed. The firing of an injured worker can bar compensation only when the worker's conduct, not the injury, caused the loss of wages. State ex rel. Gross v. Industrial Commission, 115 Ohio St.3d 249, 2007-Ohio-4916, ¶ 23.

Brennan had been working light duty for two weeks when he was fired. Summit's drug-testing policy was written, it identified a positive test as a ground for dismissal, and Brennan signed it when he was hired. The commission relied on that evidence, and it is some evidence that Brennan's own conduct, and not his injury, ended his employment. Gross at ¶ 24.

We conclude that the commission did not abuse its discretion in denying temporary-total-disability compensation.

Judgment affirmed.

O'CONNOR, C.J., and FRENCH, FISCHER, DEWINE, and DEGENARO, JJ., concur.""",
    },
    {
        "id": "real-09",
        "case_name": "Lindqvist v. Metro North Commuter Railroad",
        "court": "New York Court of Appeals",
        "date_filed": "2017-10-24",
        "citations": [
            "Palsgraf v. Long Island R.R. Co., 248 N.Y. 339 (1928)",
            "Espinal v. Melville Snow Contractors, 98 N.Y.2d 136 (2002)",
        ],
        "text": """MEMORANDUM.

Plaintiff Anna Lindqvist slipped on ice on a station platform in Yonkers while waiting for a train. Defendant Metro North had contracted with a private company to clear snow and ice from the platform. Supreme Court granted defendant's motion for summary judgment, holding that defendant owed no duty to plaintiff because it had delegated the work of removing snow. The Appellate Division affirmed.

The question presented on this appeal is whether a railroad that contracts out snow removal remains liable to its passengers for a dangerous condition on its platform.

A defendant's duty, and the scope of that duty, are questions for the court. Palsgraf v. Long Island R.R. Co., 248 N.Y. 339, 344 (1928). A contractor that undertakes to remove snow generally owes no duty to third parties. Espinal v. Melville Snow Contractors, 98 N.Y.2d 136, 138 (2002). That rule concerns the contractor, however, not the owner, and a common carrier's duty to keep its premises reasonably safe for passengers is not discharged by hiring someone else to do the work. Espinal, 98 N.Y.2d at 141.

We hold that Metro North owed plaintiff a duty of reasonable care, and that issues of fact remain as to whether it breached that duty.

Order reversed, with costs, and defendant's motion for summary judgment denied.""",
    },
    {
        "id": "real-10",
        "case_name": "Keystone Analytics, Inc. v. Brightpath Software Corp.",
        "court": "Court of Appeals for the Federal Circuit",
        "date_filed": "2022-01-19",
        "citations": [
            "Alice Corp. Pty. Ltd. v. CLS Bank International, 573 U.S. 208 (2014)",
            "Enfish, LLC v. Microsoft Corp., 822 F.3d 1327 (Fed. Cir. 2016)",
        ],
        "text": """Before MOORE, Chief Judge, LOURIE and STOLL, Circuit Judges.

STOLL, Circuit Judge.

Keystone Analytics, Inc. sued Brightpath Software Corp. for infringing two patents on methods of compressing sensor data before it is sent over a wireless network. The district court granted Brightpath's motion for judgment on the pleadings, holding that the claims of both patents are directed to patent-ineligible abstract ideas under 35 U.S.C. § 101.

This case presents the question whether claims to a specific technique for compressing data, which the specification says reduces the power a sensor uses, are directed to an abstract idea.

We apply the two-step framework of Alice Corp. Pty. Ltd. v. CLS Bank International, 573 U.S. 208, 217-18 (2014). At step one we ask whether the claims are directed to an improvement in computer functionality or to an abstract idea for which computers are merely a tool. Enfish, LLC v. Microsoft Corp., 822 F.3d 1327, 1335-36 (Fed. Cir. 2016).

The claims of the first patent recite a particular way of grouping sensor readings and encoding the differences between them, and the specification explains how that technique lets the sensor transmit less often. Those claims are directed to an improvement in how the device itself works. Enfish, 822 F.3d at 1336. The claims of the second patent, by contrast, recite only the result of "reducing transmitted data" without any means of achieving it. Alice, 573 U.S. at 223.

We hold that the claims of the first patent are patent eligible and the claims of the second patent are not.

AFFIRMED-IN-PART, REVERSED-IN-PART, AND REMANDED.""",
    },
]

if __name__ == "__main__":
    out = Path(__file__).with_name("opinions.jsonl")
    with out.open("w", encoding="utf-8") as f:
        for opinion in OPINIONS:
            f.write(json.dumps(opinion, ensure_ascii=False) + "\n")
    print(f"wrote {len(OPINIONS)} opinions to {out}")
